// The ids of the last CALLRESULTs sent to a 2.1 charge point, with their actions, so that a
// CALLRESULTERROR refusing one can be passed on with its action. [OCPP-J 2.1 §4.2.4] A ring of fixed
// size: remembering costs two array stores, no Map entry or iterator per answer. Made on the first
// answer, and only for versions that have CALLRESULTERROR.
export class RecentAnswers {
  readonly #ids: Array<string | undefined>;
  readonly #actions: string[];
  #next = 0;

  constructor(size: number) {
    this.#ids = new Array<string | undefined>(size).fill(undefined);
    this.#actions = new Array<string>(size).fill('');
  }

  remember(messageId: string, action: string): void {
    // A repeated id (an answer to a retransmitted CALL) keeps one slot: the newest.
    const i = this.#ids.indexOf(messageId);
    if (i !== -1) this.#ids[i] = undefined;
    this.#ids[this.#next] = messageId;
    this.#actions[this.#next] = action;
    this.#next = (this.#next + 1) % this.#ids.length;
  }

  /** The action of a remembered answer, or undefined. */
  actionOf(messageId: string): string | undefined {
    const i = this.#ids.indexOf(messageId);
    return i === -1 ? undefined : this.#actions[i];
  }

  /** Forgets an answer (it was refused once; a repeat refuses nothing we sent). */
  forget(messageId: string): void {
    const i = this.#ids.indexOf(messageId);
    if (i !== -1) this.#ids[i] = undefined;
  }
}
