// One subscriber's view of a streamed message: it rebuilds the text from the pieces that arrive
// (deltas, or one thought per chunk), notes when each chunk arrived, and checks both the rebuilt
// text and the final event's text against what the writer wrote.
import { CHUNK_CHARS } from './wire.ts'

export class MessageReceiver {
  /** Events of this message received: its pieces and its final event. */
  events = 0
  /** When chunk k arrived (the piece that carried its last character); 0 until then. */
  readonly receivedAt: Float64Array
  #pieces: string[] = []
  #length = 0
  #final: string | undefined

  constructor(
    readonly expected: string,
    readonly chunks: number,
  ) {
    this.receivedAt = new Float64Array(chunks)
  }

  /** A piece of the text, received at `at`. */
  piece(text: string, at: number): void {
    this.events++
    const firstChunk = Math.floor(this.#length / CHUNK_CHARS)
    this.#length += text.length
    const endChunk = Math.min(this.chunks, Math.floor(this.#length / CHUNK_CHARS))
    for (let chunk = firstChunk; chunk < endChunk; chunk++) this.receivedAt[chunk] = at
    this.#pieces.push(text)
  }

  /** The final event's whole text. */
  end(content: string): void {
    this.events++
    this.#final = content
  }

  get ended(): boolean {
    return this.#final !== undefined
  }

  /**
   * Whether the message arrived wrong: no final event, a final text that is not the message, or
   * pieces that do not add up to it (with `piecesLeftOut`, as a compacted replay sends, no pieces
   * at all is right too).
   */
  wrong({ piecesLeftOut = false } = {}): boolean {
    if (this.#final !== this.expected) return true
    const rebuilt = this.#pieces.join('')
    return rebuilt !== this.expected && !(piecesLeftOut && rebuilt === '')
  }
}
