// Measures, on real agents' parts over loopback on this machine, the per-message figures the
// scale simulator runs with (test/bench/scale/params.ts): the latency of one gossip hop and
// the CPU a receiver spends on one new gossip message (libp2p: pnet, noise, yamux,
// gossipsub's signature check; then the agent's own handler) for a node record (membership's
// merge), a suspicion notice and a DaemonSet envelope (the store's merge and level write),
// and on a duplicate (a notice relayed by a third peer too); the round trip and receiver CPU
// of one probe exchange on a fresh channel, and on one long-lived link; the time and receiver CPU of one dial (TCP,
// pnet, noise, yamux, identify, gossipsub). The receiver is a child process, so its CPU is
// its own. Beside them, the floor: the same probe exchange as one UDP datagram each way through
// Node's event loop (the frames encoded and parsed the same way, no encryption), so what the
// libp2p stack adds to an exchange can be read off. Usage:
//   npm run -s build && node dist/test/bench/scale/measure.js
// A benchmark tool, not a test.

import { fork } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair as libp2pKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { AgentClock, systemClock } from '../../../agent/clock.js'
import { defaultConfig } from '../../../agent/config.js'
import { defaultTimings } from '../../../agent/defaults.js'
import { serveLink } from '../../../agent/link.js'
import { decodeFrame, encodeJson } from '../../../agent/membership/messages.js'
import { Metrics } from '../../../agent/metrics.js'
import { PROBE_LINK_PROTOCOL, PROBE_PROTOCOL, Topics } from '../../../agent/network/constants.js'
import { keyIdOfPeerPublicKey, loadClusterKey, nodeSigningKey } from '../../../agent/network/keys.js'
import { Network } from '../../../agent/network/network.js'
import { Membership } from '../../../agent/membership/membership.js'
import { Store } from '../../../agent/store/store.js'
import { checkStoreValue } from '../../../core/admission.js'
import { signEnvelope } from '../../../core/envelope.js'
import { generateClusterKey, generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { StoreKey, dsRef } from '../../../core/keyspace.js'
import { ds } from '../../helpers/fixtures.js'

const GOSSIP_MESSAGES = 400
const PROBES = 400
const DIALS = 30
/** Gap between two messages: enough that none queues behind another (latency, not throughput). */
const PACE_MS = 15

const log = pino({ level: 'silent' })
const now = (): number => Number(process.hrtime.bigint()) / 1e6
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface Setup {
  pskFile: string
  operator: string
  dir: string
}

/** receiver is the child: a real Network and a real Store, the probe protocol answered as the prober does. */
async function receiver(setup: Setup): Promise<void> {
  const { psk } = await loadClusterKey(setup.pskFile, false)
  const metrics = new Metrics()
  const store = await Store.open({ path: join(setup.dir, 'store'), trusted: [setup.operator], checkValue: checkStoreValue, clock: new AgentClock(systemClock), metrics, log })
  const peerKey = await libp2pKeyPair('Ed25519')
  const net = await Network.create({ privateKey: peerKey, listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 64, timings: defaultTimings(), logger: log })
  // Membership is not started: only its gossip handler runs (records merged, notices judged).
  const keyId = keyIdOfPeerPublicKey(peerKey.publicKey.raw)
  const membership = new Membership({ transport: net, clock: systemClock, hlc: new AgentClock(systemClock), signingKey: nodeSigningKey(peerKey), keyId, self: { name: 'measure-b', labels: {}, taints: [], version: 'measure' }, heartbeatMs: 500, suspicionMs: 1000, forgetMs: 3_600_000, targetPeers: defaultConfig().targetPeers, bootstrap: [], timings: defaultTimings(), metrics, log })
  const arrivals: number[] = []
  net.subscribe(Topics.store, (msg) => {
    arrivals.push(now())
    return store.validate(msg)
  })
  net.subscribe(Topics.nodes, (msg) => {
    arrivals.push(now())
    return membership.validate(msg)
  })
  await net.serve(
    PROBE_PROTOCOL,
    async (channel) => {
      decodeFrame(await channel.read())
      await channel.write(encodeJson({ t: 'ack', me: { incarnation: 0, startedAt: Date.now() } }))
    },
    { maxFrameBytes: 512, timeoutMs: 5000, maxStreams: 64 },
  )
  // A probe link: one long-lived channel, each numbered ping answered by its numbered ack.
  await net.serve(
    PROBE_LINK_PROTOCOL,
    (channel) =>
      serveLink(channel, async (raw) => {
        const frame = decodeFrame(raw)
        await channel.write(encodeJson({ t: 'ack', n: frame.n, me: { incarnation: 0, startedAt: Date.now() } }))
      }),
    { maxFrameBytes: 512, timeoutMs: 5000, idleMs: 30_000, maxStreams: 64 },
  )
  // The floor: each ping datagram answered by an ack datagram (a datagram that is no frame is dropped).
  const udp = createSocket('udp4')
  udp.on('message', (raw, from) => {
    const frame = parsed(raw)
    if (frame === undefined) return
    udp.send(encodeJson({ t: 'ack', n: frame.n, me: { incarnation: 0, startedAt: Date.now() } }), from.port, from.address)
  })
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
  let mark = cpuMs()
  process.on('message', (m: { t: string }) => {
    if (m.t === 'mark') {
      mark = cpuMs()
      process.send?.({ t: 'marked' })
    } else if (m.t === 'cpu') process.send?.({ t: 'cpu', ms: cpuMs() - mark, arrivals: arrivals.splice(0) })
    else if (m.t === 'stop') void net.stop().then(() => store.close()).then(() => process.exit(0))
  })
  process.send?.({ t: 'ready', addresses: net.addresses(), udpPort: udp.address().port })
}

/** ask sends the child a request and waits for its answer of type `answer`. */
function ask<T>(child: ReturnType<typeof fork>, t: string, answer: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { t: string }): void => {
      if (m.t !== answer) return
      child.off('message', on)
      resolve(m as T)
    }
    child.on('message', on)
    child.send({ t })
  })
}

/** parsed decodes a datagram's probe frame, or undefined when it is none. */
function parsed(raw: Uint8Array): ReturnType<typeof decodeFrame> | undefined {
  try {
    return decodeFrame(raw)
  } catch {
    return undefined
  }
}

/** udpExchanges sends PROBES numbered pings to the receiver's datagram echo, paced, each after the last one's ack; returns the round trips (the receiver's CPU is marked first). */
async function udpExchanges(udp: Socket, port: number, child: ReturnType<typeof fork>): Promise<number[]> {
  let answered: ((n: number | undefined) => void) | undefined
  udp.on('message', (raw) => {
    const frame = parsed(raw)
    if (frame !== undefined) answered?.(frame.n)
  })
  const rtts: number[] = []
  await ask(child, 'mark', 'marked')
  for (let i = 0; i < PROBES; i++) {
    const t0 = now()
    const n = await new Promise<number | undefined>((resolve, reject) => {
      // Loopback drops a datagram only under memory pressure: fail the run rather than hang.
      const lost = setTimeout(() => reject(new Error(`no datagram ack for ping ${i} within 2 s`)), 2000)
      answered = (m) => {
        clearTimeout(lost)
        resolve(m)
      }
      udp.send(encodeJson({ t: 'ping', n: i, you: { status: 'alive', incarnation: 0 } }), port, '127.0.0.1')
    })
    if (n !== i) throw new Error(`datagram ack ${String(n)} for ping ${i}`)
    rtts.push(now() - t0)
    await sleep(PACE_MS)
  }
  return rtts
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}
const fmt = (x: number): string => x.toFixed(3)

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dm-sim-measure-'))
  const pskFile = join(dir, 'cluster.key')
  await writeFile(pskFile, generateClusterKey())
  const op = generateKeyPair()
  const setup: Setup = { pskFile, operator: op.id, dir }
  const child = fork(new URL(import.meta.url).pathname, ['receiver', JSON.stringify(setup)])
  const ready = await new Promise<{ addresses: string[]; udpPort: number }>((resolve) => child.once('message', (m) => resolve(m as { addresses: string[]; udpPort: number })))
  const { psk } = await loadClusterKey(pskFile, false)
  const aKey = await libp2pKeyPair('Ed25519')
  const net = await Network.create({ privateKey: aKey, listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 64, timings: defaultTimings(), logger: log })
  const peer = await net.dial(ready.addresses[0] as string)
  await sleep(3000) // gossipsub meshes at its heartbeat
  const key = parsePrivateKey(op.privateKeyPem)
  const hlc = new AgentClock(systemClock)

  // Idle baseline of the receiver, over as long as one gossip run takes.
  await ask(child, 'mark', 'marked')
  await sleep(GOSSIP_MESSAGES * PACE_MS)
  const idle = (await ask<{ ms: number }>(child, 'cpu', 'cpu')).ms
  const idlePer = (ms: number): number => (idle * ms) / (GOSSIP_MESSAGES * PACE_MS)

  /** burst publishes GOSSIP_MESSAGES messages from `from`, paced; returns the hop latencies, the receiver's CPU per message, and the mean size. */
  const burst = async (from: Network, topic: string, make: (i: number) => unknown): Promise<{ hops: number[]; cpu: number; bytes: number; delivered: number }> => {
    const sentAt: number[] = []
    let bytes = 0
    await ask(child, 'mark', 'marked')
    const t0 = now()
    for (let i = 0; i < GOSSIP_MESSAGES; i++) {
      const data = new TextEncoder().encode(JSON.stringify(make(i)))
      bytes += data.length
      sentAt.push(now())
      await from.publish(topic, data)
      await sleep(PACE_MS)
    }
    await sleep(500)
    const r = await ask<{ ms: number; arrivals: number[] }>(child, 'cpu', 'cpu')
    return { hops: r.arrivals.map((t, i) => t - (sentAt[i] as number)), cpu: (r.ms - idlePer(now() - t0)) / GOSSIP_MESSAGES, bytes: bytes / GOSSIP_MESSAGES, delivered: r.arrivals.length }
  }

  // New node records, signed by the publisher's own key (as membership publishes them).
  const aKeyId = keyIdOfPeerPublicKey(aKey.publicKey.raw)
  const aSigning = nodeSigningKey(aKey)
  const record = { name: 'measure-a', peerId: net.peerId, addresses: net.addresses(), labels: { zone: 'a' }, taints: [], conditions: [{ type: 'Ready', status: 'True' }], version: 'measure', state: 'alive', startedAt: Date.now(), incarnation: 0, pods: {} }
  const records = await burst(net, Topics.nodes, () => signEnvelope(StoreKey.nodeRecord(aKeyId), record, hlc.now(), aSigning))
  // Suspicion notices (small; the receiver parses and judges them, then ignores them: the suspect is unknown to it).
  const notice = (i: number): unknown => ({ t: 'suspect', keyId: `${String(i).padStart(6, '0')}${'x'.repeat(37)}`, incarnation: i })
  const notices = await burst(net, Topics.nodes, notice)
  // DaemonSet envelopes into the store (merge, level write).
  const dsEnvelopes = await burst(net, Topics.store, (i) => signEnvelope(StoreKey.daemonSet(dsRef('default', `sim-measure-${i}`)), ds({}, { metadata: { name: `sim-measure-${i}` } }), hlc.now(), key))
  // Duplicates: a third peer C, connected to both, relays every notice too (under 512 bytes: no IDONTWANT).
  const relay = await Network.create({ privateKey: await libp2pKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 64, timings: defaultTimings(), logger: log })
  relay.subscribe(Topics.nodes, () => 'accept')
  await relay.dial(ready.addresses[0] as string)
  await relay.dial(net.addresses()[0] as string)
  await sleep(3000)
  const doubled = await burst(net, Topics.nodes, (i) => notice(i + GOSSIP_MESSAGES))
  await relay.stop()
  const duplicateCpu = doubled.cpu - notices.cpu

  // Probe exchanges: a fresh channel each, ping then ack, over the connection held.
  const rtts: number[] = []
  await ask(child, 'mark', 'marked')
  for (let i = 0; i < PROBES; i++) {
    const t0 = now()
    const ch = await net.open(peer, PROBE_PROTOCOL, { maxFrameBytes: 512, timeoutMs: 5000 })
    await ch.write(encodeJson({ t: 'ping', you: { status: 'alive', incarnation: 0 } }))
    decodeFrame(await ch.read())
    await ch.close()
    rtts.push(now() - t0)
    await sleep(PACE_MS)
  }
  const p = await ask<{ ms: number }>(child, 'cpu', 'cpu')
  const probeCpu = (p.ms - idlePer(rtts.reduce((a, b) => a + b, 0) + PROBES * PACE_MS)) / PROBES

  // The same exchanges on one long-lived link (the prober's and the lease's carriage).
  const linkRtts: number[] = []
  const link = await net.open(peer, PROBE_LINK_PROTOCOL, { maxFrameBytes: 512, timeoutMs: 5000, idleMs: 30_000 })
  await ask(child, 'mark', 'marked')
  for (let i = 0; i < PROBES; i++) {
    const t0 = now()
    await link.write(encodeJson({ t: 'ping', n: i, you: { status: 'alive', incarnation: 0 } }))
    decodeFrame(await link.read())
    linkRtts.push(now() - t0)
    await sleep(PACE_MS)
  }
  const l = await ask<{ ms: number }>(child, 'cpu', 'cpu')
  const linkCpu = (l.ms - idlePer(linkRtts.reduce((a, b) => a + b, 0) + PROBES * PACE_MS)) / PROBES
  await link.close()

  // The floor: the same exchanges as datagrams.
  const udp = createSocket('udp4')
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
  const udpRtts = await udpExchanges(udp, ready.udpPort, child)
  udp.close()
  const u = await ask<{ ms: number }>(child, 'cpu', 'cpu')
  const udpCpu = (u.ms - idlePer(udpRtts.reduce((a, b) => a + b, 0) + PROBES * PACE_MS)) / PROBES

  // Dials: a fresh node each time (new key, new connection, full handshake).
  const dials: number[] = []
  await ask(child, 'mark', 'marked')
  const dialStart = now()
  for (let i = 0; i < DIALS; i++) {
    const other = await Network.create({ privateKey: await libp2pKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 64, timings: defaultTimings(), logger: log })
    const t0 = now()
    await other.dial(ready.addresses[0] as string)
    dials.push(now() - t0)
    await sleep(200)
    await other.stop()
  }
  const d = await ask<{ ms: number }>(child, 'cpu', 'cpu')
  const dialCpu = (d.ms - idlePer(now() - dialStart)) / DIALS

  console.log(`receiver idle CPU: ${fmt(idle / (GOSSIP_MESSAGES * PACE_MS) * 1000)} ms/s`)
  for (const [what, r] of [
    ['node record', records],
    ['suspicion notice', notices],
    ['DaemonSet envelope', dsEnvelopes],
  ] as const) {
    console.log(`gossip ${what}: ${r.delivered}/${GOSSIP_MESSAGES} delivered, ${Math.round(r.bytes)} B each; hop latency p50 ${fmt(pct(r.hops, 50))} ms p90 ${fmt(pct(r.hops, 90))} ms p99 ${fmt(pct(r.hops, 99))} ms; receiver CPU ${fmt(r.cpu)} ms/message`)
  }
  console.log(`gossip duplicate (notice relayed by a third peer): receiver CPU ${fmt(duplicateCpu)} ms/duplicate (${fmt(doubled.cpu)} ms per notice received twice)`)
  console.log(`probe exchange (fresh channel, ping, ack): round trip p50 ${fmt(pct(rtts, 50))} ms p90 ${fmt(pct(rtts, 90))} ms p99 ${fmt(pct(rtts, 99))} ms; receiver CPU ${fmt(probeCpu)} ms/exchange`)
  console.log(`probe exchange on a link (one long-lived channel, numbered ping, ack): round trip p50 ${fmt(pct(linkRtts, 50))} ms p90 ${fmt(pct(linkRtts, 90))} ms p99 ${fmt(pct(linkRtts, 99))} ms; receiver CPU ${fmt(linkCpu)} ms/exchange`)
  console.log(`floor: the same exchange as one UDP datagram each way (no libp2p, no encryption): round trip p50 ${fmt(pct(udpRtts, 50))} ms p90 ${fmt(pct(udpRtts, 90))} ms p99 ${fmt(pct(udpRtts, 99))} ms; receiver CPU ${fmt(udpCpu)} ms/exchange`)
  console.log(`dial (tcp, pnet, noise, yamux, identify): p50 ${fmt(pct(dials, 50))} ms p90 ${fmt(pct(dials, 90))} ms; receiver CPU ${fmt(dialCpu)} ms/dial`)
  child.send({ t: 'stop' })
  await net.stop()
  await new Promise((r) => child.once('exit', r))
  await rm(dir, { recursive: true, force: true })
}

if (process.argv[2] === 'receiver') void receiver(JSON.parse(process.argv[3] as string) as Setup)
else
  main().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
