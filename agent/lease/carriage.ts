// How lease messages travel between a claimant and the voters, and nothing of what they
// mean: Lease (lease.ts) judges requests with its Voter and hands answers to its Claimant.
// Requests go to each voter on a lease link (LEASE_LINK_PROTOCOL): one long-lived channel
// per voter, opened on first use and again after it failed, carrying numbered requests and
// numbered answers (agent/link.ts), so a request costs one frame and its answer one more,
// not a stream opened and closed. A voter that does not serve links (an older agent) gets
// each request on a stream of its own (LEASE_PROTOCOL), as before; both are served here.
// Every frame is checked at the border (size, schema, the message types its direction
// carries); who may be heard is Lease's check, on the key the transport authenticated for
// the channel. Nothing here reads time or schedules work but through the injected Clock.

import type { Logger } from 'pino'
import { z } from 'zod'
import { leaseMessageSchema, type LeaseMessage } from '../../core/lease.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import { Links, MAX_LINK_NUMBER, NoAnswerError, serveLink, type Link, type LinkCodec } from '../link.js'
import type { Metrics } from '../metrics.js'
import { LEASE_LINK_PROTOCOL, LEASE_PROTOCOL } from '../network/constants.js'
import { ProtocolNotSupportedError, type ChannelLimits, type FrameChannel, type Transport } from '../transport.js'
import type { PeerAddress } from './fleet-view.js'
import type { Reply, Request } from './voter.js'

/**
 * MAX_LEASE_FRAME_BYTES bounds one lease frame. The largest message the schema admits (a
 * refusal: a DaemonSet reference of 317 characters, a reason of 300, a key id) is under
 * 2 KiB even with every character escaped, and a link frame adds its number; anything
 * larger is not a lease frame.
 */
export const MAX_LEASE_FRAME_BYTES = 4096

/** A voter found not to serve links is asked on links again after this long (it may have been upgraded). */
const OLDER_RECHECK_MS = 5 * 60_000

const n = z.number().int().min(0).max(MAX_LINK_NUMBER)
/** A request on a link: its number and the message. */
const linkRequestSchema = z.object({ n, m: leaseMessageSchema }).strict()
/** An answer on a link: the request's number and the voter's answer, or none (a request the voter does not answer: as a stream closed without a word). A release is not answered at all. */
const linkAnswerSchema = z.object({ n, m: leaseMessageSchema.optional() }).strict()

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const encode = (v: unknown): Uint8Array => encoder.encode(JSON.stringify(v))

/** What a claim or an act expects back. */
const ANSWERS: Record<Request['t'], readonly LeaseMessage['t'][]> = { claim: ['grant', 'refuse'], act: ['ack'], release: [] }

export interface CarriageOptions {
  transport: Pick<Transport, 'serve' | 'open'>
  clock: Clock
  timings: Timings['lease']
  metrics: Pick<Metrics, 'lease' | 'rejected' | 'leaseChannels'>
  log: Logger
  /** nameOf names a member for logs. */
  nameOf: (keyId: string) => string | undefined
  /** peerOf returns where a voter says it can be reached. */
  peerOf: (keyId: string) => PeerAddress | undefined
  /** judge answers a request from the peer whose key the transport authenticated (undefined: no answer). */
  judge: (keyId: string, msg: Request) => Promise<Reply | undefined>
  /** heard hands a voter's answer to one of our requests on. */
  heard: (voter: string, reply: Reply) => void
}

/** Carriage carries lease requests to voters and their answers back, on links or, to older voters, on streams. */
export class Carriage {
  private readonly opts: CarriageOptions
  private readonly limits: ChannelLimits
  private readonly links: Links<Request, LeaseMessage | undefined>
  /** Voters (by peer id) that did not serve links, and since when (mono). */
  private readonly older = new Map<string, number>()
  /** Links being opened and exchanges on streams running now, and those waiting for a place (maxOpenChannels). */
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(opts: CarriageOptions) {
    this.opts = opts
    this.limits = { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: opts.timings.exchangeTimeoutMs }
    const codec: LinkCodec<Request, LeaseMessage | undefined> = {
      encode: (m, n) => encode({ n, m }),
      decode: (raw) => {
        const frame = this.parse(raw, linkAnswerSchema, 'a lease link')
        if (frame === undefined) throw new Error('malformed lease answer')
        return { n: frame.n, answer: frame.m }
      },
    }
    this.links = new Links(opts.clock, codec, opts.timings.maxInboundStreams)
  }

  /** serve answers lease links, and the one-request streams of older agents. */
  async serve(): Promise<void> {
    const t = this.opts.transport
    const timings = this.opts.timings
    // Longer than the opener's idle time, so the opener is the one that closes an idle link.
    await t.serve(LEASE_LINK_PROTOCOL, (channel, peer, keyId) => this.answerLink(channel, peer, keyId), { ...this.limits, idleMs: 2 * timings.linkIdleMs, maxStreams: timings.maxInboundLinks })
    await t.serve(LEASE_PROTOCOL, (channel, peer, keyId) => this.answerStream(channel, peer, keyId), { ...this.limits, maxStreams: timings.maxInboundStreams })
  }

  /** stop closes this agent's links to voters. */
  stop(): void {
    this.links.closeAll()
  }

  /** send delivers a request to each voter; resolves when every exchange ended (answered, or not). */
  async send(msg: Request, voters: readonly string[]): Promise<void> {
    await Promise.all(voters.map((v) => this.exchange(v, msg)))
  }

  /**
   * warm opens a link to each voter that has none (an older voter, one without a record, or
   * one already linked is left alone): the next request to it then costs a frame, not a
   * dial and a handshake. A link opened here and never used closes when idle.
   */
  warm(voters: readonly string[]): void {
    for (const voter of voters) {
      const peer = this.opts.peerOf(voter)
      if (peer === undefined || this.isOlder(peer.peerId) || this.links.has(peer.peerId)) continue
      this.linkTo(peer).catch((err: unknown) => {
        if (err instanceof ProtocolNotSupportedError) this.noteOlder(peer.peerId)
        this.opts.log.debug({ err, voter: this.opts.nameOf(voter) ?? voter }, 'lease link not opened ahead of a claim')
      })
    }
  }

  /** linkTo returns the link to `peer`, opening it (a place among maxOpenChannels, and a dial when not connected) when there is none. */
  private linkTo(peer: PeerAddress): Promise<Link<Request, LeaseMessage | undefined>> {
    return this.links.get(peer.peerId, async () => {
      await this.acquire()
      try {
        return await this.opened('link', () => this.opts.transport.open(peer.peerId, LEASE_LINK_PROTOCOL, { ...this.limits, idleMs: this.opts.timings.linkIdleMs }, peer.addresses))
      } finally {
        this.release()
      }
    })
  }

  /**
   * exchange delivers one request to `voter` on its link (opening it, and dialling the
   * voter's record addresses, when needed), or on a stream of its own when the voter serves
   * no links, and hands the answer on. The deadline (exchangeTimeoutMs) covers the opening.
   * Failures are counted and logged at debug: a voter that does not answer is one vote
   * short, and the claim cut-off handles that.
   */
  private async exchange(voter: string, msg: Request): Promise<void> {
    const peer = this.opts.peerOf(voter)
    if (peer === undefined) {
      this.opts.metrics.lease.inc({ type: msg.t, result: 'failed' })
      return
    }
    if (this.isOlder(peer.peerId)) return this.exchangeOnStream(voter, peer, msg)
    const start = this.opts.clock.mono()
    let stage = 'open'
    let link: Link<Request, LeaseMessage | undefined> | undefined
    try {
      link = await this.linkTo(peer)
      stage = 'write'
      if (msg.t === 'release') {
        await link.send(msg)
        this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
        return
      }
      const answer = link.request(msg, Math.max(1, this.opts.timings.exchangeTimeoutMs - (this.opts.clock.mono() - start)))
      this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
      stage = 'read'
      const reply = await answer
      if (reply === undefined) {
        this.opts.metrics.lease.inc({ type: msg.t, result: 'unanswered' })
        return
      }
      if (!ANSWERS[msg.t].includes(reply.t)) {
        // Well formed, but not an answer to this request: the voter's link is not to be trusted further.
        this.rejected(peer.peerId)
        this.links.drop(peer.peerId)
        return
      }
      this.received(voter, reply)
    } catch (err) {
      if (err instanceof ProtocolNotSupportedError) {
        this.noteOlder(peer.peerId)
        this.opts.log.debug({ voter: this.opts.nameOf(voter) ?? voter }, 'voter serves no lease links: one stream per request')
        return this.exchangeOnStream(voter, peer, msg)
      }
      // A link on which a request went unanswered may ride a connection that no longer
      // carries frames (cut without a reset): the next request opens another.
      if (err instanceof NoAnswerError && link !== undefined) this.links.drop(peer.peerId, link)
      this.opts.metrics.lease.inc({ type: msg.t, result: stage === 'read' ? 'unanswered' : 'failed' })
      this.opts.log.debug({ err, voter: this.opts.nameOf(voter) ?? voter, type: msg.t, stage }, 'lease exchange ended without an answer')
    }
  }

  /** exchangeOnStream is the exchange of older agents: a stream per request, one frame each way (none back for a release). */
  private async exchangeOnStream(voter: string, peer: PeerAddress, msg: Request): Promise<void> {
    let channel: FrameChannel | undefined
    let stage = 'open'
    await this.acquire()
    try {
      channel = await this.opened('stream', () => this.opts.transport.open(peer.peerId, LEASE_PROTOCOL, this.limits, peer.addresses))
      stage = 'write'
      await channel.write(encode(msg))
      this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
      if (msg.t === 'release') return
      stage = 'read'
      const reply = this.parse(await channel.read(), leaseMessageSchema, peer.peerId)
      if (reply === undefined) return
      if (!ANSWERS[msg.t].includes(reply.t)) return this.rejected(peer.peerId)
      this.received(voter, reply)
    } catch (err) {
      // A voter that closes without a word did not answer (rate, or an act it does not acknowledge).
      this.opts.metrics.lease.inc({ type: msg.t, result: stage === 'read' ? 'unanswered' : 'failed' })
      this.opts.log.debug({ err, voter: this.opts.nameOf(voter) ?? voter, type: msg.t, stage }, 'lease exchange ended without an answer')
    } finally {
      await channel?.close().catch(() => undefined)
      this.release()
    }
  }

  /**
   * answerLink serves a lease link from the peer whose key the transport authenticated:
   * each request is judged as it comes, at most maxInboundStreams at once (the link is not
   * read further meanwhile, so a peer that sends faster waits on its own link and grows
   * nothing here), and answered with its number as it is decided (a release is not
   * answered). A malformed frame, or one that is not a request, is counted as rejected and
   * ends the link. Returns when the link ends.
   */
  private async answerLink(channel: FrameChannel, peer: string, keyId: string): Promise<void> {
    let judging = 0
    let freed: (() => void) | undefined
    await serveLink(channel, async (raw) => {
      const frame = this.parse(raw, linkRequestSchema, peer)
      const msg = frame?.m
      if (frame === undefined || msg === undefined || !isRequest(msg)) {
        if (frame !== undefined) this.rejected(peer)
        throw new Error('malformed lease request')
      }
      judging++
      void this.opts
        .judge(keyId, msg)
        .then(async (reply) => {
          if (msg.t === 'release') return
          await channel.write(encode(reply === undefined ? { n: frame.n } : { n: frame.n, m: reply }))
          if (reply !== undefined) this.opts.metrics.lease.inc({ type: reply.t, result: 'sent' })
        })
        .catch((err: unknown) => this.opts.log.debug({ err, peer }, 'lease request on a link not answered'))
        .finally(() => {
          judging--
          freed?.()
        })
      while (judging >= this.opts.timings.maxInboundStreams) await new Promise<void>((resolve) => (freed = resolve))
      freed = undefined
    })
  }

  /**
   * answerStream serves one inbound stream of an older agent: it reads one request, has it
   * judged and writes the answer back. A malformed frame, or a message that is not a
   * request, is counted as rejected and aborts the stream. Called concurrently, at most
   * maxInboundStreams at once per connection.
   */
  private async answerStream(channel: FrameChannel, peer: string, keyId: string): Promise<void> {
    const msg = this.parse(await channel.read(), leaseMessageSchema, peer)
    if (msg === undefined || !isRequest(msg)) {
      if (msg !== undefined) this.rejected(peer)
      throw new Error('malformed lease request')
    }
    const reply = await this.opts.judge(keyId, msg)
    if (reply === undefined) return
    await channel.write(encode(reply))
    this.opts.metrics.lease.inc({ type: reply.t, result: 'sent' })
  }

  /** received counts a voter's answer and hands it on. */
  private received(voter: string, reply: LeaseMessage): void {
    this.opts.metrics.lease.inc({ type: reply.t, result: 'received' })
    this.opts.heard(voter, reply as Reply)
  }

  /** parse decodes one frame with `schema`; otherwise it counts it as rejected, warns, and returns undefined. */
  private parse<S extends z.ZodTypeAny>(frame: Uint8Array, schema: S, peer: string): z.infer<S> | undefined {
    try {
      const r = schema.safeParse(JSON.parse(decoder.decode(frame)))
      if (r.success) return r.data as z.infer<S>
    } catch {
      // not JSON: rejected below
    }
    this.rejected(peer)
    return undefined
  }

  /** rejected counts a frame that is not what its place in the protocol admits, and warns. */
  private rejected(peer: string): void {
    this.opts.metrics.lease.inc({ type: 'invalid', result: 'rejected' })
    this.opts.metrics.rejected.inc({ map: 'lease', source: 'stream' })
    this.opts.log.warn({ peer }, 'malformed lease message: dropped')
  }

  /** noteOlder remembers that `peer` serves no links, and forgets those noted too long ago (so the map holds only voters asked lately). */
  private noteOlder(peer: string): void {
    const now = this.opts.clock.mono()
    for (const [p, since] of this.older) if (now - since >= OLDER_RECHECK_MS) this.older.delete(p)
    this.older.set(peer, now)
  }

  /** isOlder tells whether `peer` was found not to serve links, lately. */
  private isOlder(peer: string): boolean {
    const since = this.older.get(peer)
    if (since === undefined) return false
    if (this.opts.clock.mono() - since < OLDER_RECHECK_MS) return true
    this.older.delete(peer)
    return false
  }

  /** opened opens a channel of `carriage` and counts it. */
  private async opened(carriage: 'link' | 'stream', open: () => Promise<FrameChannel>): Promise<FrameChannel> {
    const channel = await open()
    this.opts.metrics.leaseChannels.inc({ carriage })
    return channel
  }

  /** acquire resolves once fewer than maxOpenChannels openings (of links) and exchanges (on streams) run (first come, first served). */
  private async acquire(): Promise<void> {
    if (this.running < this.opts.timings.maxOpenChannels) this.running++
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  /** release hands a place to the next waiting opening or exchange. */
  private release(): void {
    const next = this.waiting.shift()
    if (next === undefined) this.running--
    else next()
  }
}

/** isRequest tells a claim, act or release from an answer (a voter is asked, never told). */
function isRequest(msg: LeaseMessage): msg is Request {
  return msg.t === 'claim' || msg.t === 'act' || msg.t === 'release'
}
