/**
 * "Join a run as a worker": the page connects to a NATS server over WebSocket, announces
 * itself to a `nitro-d train --nats URL --workers N` coordinator and trains the rows of each
 * step it is given on its own backend (WebGPU or CPU, the Backend card's choice), until the
 * run ends or Leave is pressed. The run's weights stay those of one device.
 */
import { wsconnect } from '@nats-io/nats-core';
import { type Backend, type BackendKind, createBackend } from '../../src/index.ts';
import { joinNatsRun, type NatsMembership } from '../../src/parallel/nats.ts';
import { serveWorker } from '../../src/parallel/worker.ts';

export interface WorkerJoinOptions {
  /** The Backend card's choice when Join is pressed. */
  backendKind: () => BackendKind;
  onError: (e: unknown) => void;
}

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

export function installWorkerJoin(options: WorkerJoinOptions): void {
  const url = byId<HTMLInputElement>('nats-url');
  const group = byId<HTMLInputElement>('nats-group');
  const join = byId<HTMLButtonElement>('worker-join');
  const leave = byId<HTMLButtonElement>('worker-leave');
  const status = byId<HTMLParagraphElement>('worker-status');
  let membership: NatsMembership | undefined;
  let waiting: AbortController | undefined;

  const say = (text: string, state: string) => {
    status.textContent = text;
    status.dataset.state = state;
  };

  leave.addEventListener('click', () => {
    waiting?.abort();
    membership?.channel.close();
  });

  join.addEventListener('click', async () => {
    const server = url.value.trim();
    const name = group.value.trim() || 'default';
    if (!/^wss?:\/\/\S+$/.test(server)) {
      say('Enter the server’s WebSocket URL, e.g. ws://localhost:8080.', 'error');
      return;
    }
    join.disabled = true;
    url.disabled = true;
    group.disabled = true;
    let backend: Backend | undefined;
    let steps = 0;
    let nc: Awaited<ReturnType<typeof wsconnect>> | undefined;
    try {
      const kind = options.backendKind();
      say(`Starting the ${kind} backend…`, 'connecting');
      backend = await createBackend(kind);
      say(`Connecting to ${server}…`, 'connecting');
      nc = await wsconnect({
        servers: server,
        name: `nitro-d page worker (${kind})`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }).catch((e: Error) => {
        // A refused WebSocket says nothing more than its event.
        throw new Error(
          `cannot connect to NATS at ${server}: ${e.message || 'no WebSocket answer'}`,
        );
      });
      say(`Waiting for a run in group “${name}” on ${server}…`, 'waiting');
      leave.disabled = false;
      waiting = new AbortController();
      membership = await joinNatsRun(nc, {
        url: server,
        group: name,
        backend: kind,
        name: 'browser',
        waitMs: 10 * 60_000,
        signal: waiting.signal,
      });
      waiting = undefined;
      say(`Joined run ${membership.runId} (${kind}): waiting for the first step…`, 'joined');
      const run = membership.runId;
      await serveWorker(membership.channel, backend, {
        onStep: ({ rows, offset }) => {
          steps++;
          say(
            `Joined run ${run} (${kind}): ${steps} steps served, the last one rows ${offset}–${offset + rows - 1}.`,
            'joined',
          );
        },
      });
      say(`Run ${run} ended: ${steps} steps served.`, 'ended');
    } catch (e) {
      if (waiting?.signal.aborted) say('Left before a run took this page.', 'idle');
      else {
        say(`Not joined: ${(e as Error).message}`, 'error');
        options.onError(e);
      }
    } finally {
      waiting = undefined;
      membership?.leave();
      if (membership) await membership.channel.closed();
      membership = undefined;
      await nc?.close().catch(() => {});
      backend?.destroy();
      join.disabled = false;
      leave.disabled = true;
      url.disabled = false;
      group.disabled = false;
    }
  });
}
