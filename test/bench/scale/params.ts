// The simulator's per-message figures, measured on real agents' parts over loopback on this
// machine (2 cores, shared) with `node dist/test/bench/scale/measure.js` (measure.ts), three
// runs on 2026-11-25; docs/scale-simulator.md lists each run and which figure came from
// which. Latencies are drawn from a log-normal with the median and 90th percentile given.
// Wire sizes add the framing the measurement does not see (estimates, see each field).

/** LinkParams are the per-message costs of the model. */
export interface LinkParams {
  /** One gossip hop, publish or relay to handler at the next peer: median and p90 (ms). */
  gossipHopMs: { p50: number; p90: number }
  /** CPU a receiver spends on one new gossip message (libp2p's receive, then the agent's handler), ms: a node record (membership's merge), a suspicion notice or control RPC (small), a DaemonSet envelope (the store's merge and level write). */
  gossipCpuMs: { record: number; notice: number; storeEnvelope: number }
  /** CPU a receiver spends on a duplicate (decrypted and decoded, then dropped by id), ms. */
  duplicateCpuMs: number
  /** One channel frame, writer to reader, on an open connection (half a fresh-channel probe round trip): median and p90 (ms). */
  frameMs: { p50: number; p90: number }
  /** CPU a reader spends on one frame (half a probe exchange at the responder: stream open, frame, answer). */
  frameCpuMs: number
  /** One frame on a long-lived link (half a probe round trip on one: no stream opened), median and p90 (ms). */
  linkFrameMs: { p50: number; p90: number }
  /** CPU a reader spends on one frame of a long-lived link (half a numbered probe exchange at the responder: frame, answer). */
  linkFrameCpuMs: number
  /** One dial: TCP, pnet, noise, yamux, identify (median and p90, ms). */
  dialMs: { p50: number; p90: number }
  /** CPU each side spends on one dial (the handshakes' key exchanges and signatures). */
  dialCpuMs: number
  /** CPU each side spends on a dial refused at the target's connection cap (a TCP accept and close before any handshake). Estimate, not measured. */
  refusedDialCpuMs: number
  /** Bytes of a refused dial (TCP SYN, SYN-ACK, ACK, FIN both ways, headers only). Estimate from the formats. */
  refusedDialBytes: number
  /** Extra one-way latency added to every message (a LAN or WAN instead of loopback); a dial pays it 8 times (about 4 round trips). */
  extraLatencyMs: number
  /** Probability a message's segment is lost: TCP delivers it a retransmission timeout later (doubling while lost again). Loopback: 0. */
  loss: number
  /** TCP's minimum retransmission timeout on Linux, ms. */
  rtoMs: number
  /** Bytes a gossip message carries besides its data: gossipsub's from (38), seqno (8), topic, StrictSign signature (64), protobuf, yamux and noise framing. Estimate from the formats. */
  gossipOverheadBytes: number
  /** Bytes a channel frame carries besides its data: length prefix, yamux header, noise tag. Estimate from the formats. */
  frameOverheadBytes: number
  /** Bytes of opening and closing a stream (yamux SYN/FIN, multistream-select both ways). Estimate from the formats. */
  streamBytes: number
  /** Bytes of one dial (pnet nonces, noise XX, multistream, identify both ways). Estimate from the formats. */
  dialBytes: number
  /** yamux pings every connection this often (its keepAliveInterval, 30 s), from each side; libp2p's connection monitor is off (agent/network/network.ts). */
  keepaliveMs: number
  /** Bytes of one keepalive ping or pong (a 12-byte yamux frame and noise's 16-byte tag). Estimate from the formats. */
  keepaliveBytes: number
  /** One `docker run` on this machine (DESIGN.md: 0.1 s), for the simulated hosts' pod starts. */
  podStartMs: number
}

/** MEASURED: the figures from measure.ts on this machine (see the header). */
export const MEASURED: LinkParams = {
  gossipHopMs: { p50: 2.4, p90: 3.3 },
  gossipCpuMs: { record: 2.85, notice: 2.1, storeEnvelope: 3.4 },
  duplicateCpuMs: 1.05,
  frameMs: { p50: 3.7, p90: 6.0 },
  frameCpuMs: 2.4,
  linkFrameMs: { p50: 1.5, p90: 5.0 },
  linkFrameCpuMs: 0.93,
  dialMs: { p50: 22, p90: 55 },
  dialCpuMs: 31,
  refusedDialCpuMs: 0.5,
  refusedDialBytes: 360,
  extraLatencyMs: 0,
  loss: 0,
  rtoMs: 200,
  gossipOverheadBytes: 180,
  frameOverheadBytes: 32,
  streamBytes: 120,
  dialBytes: 4000,
  keepaliveMs: 30_000,
  keepaliveBytes: 28,
  podStartMs: 100,
}
