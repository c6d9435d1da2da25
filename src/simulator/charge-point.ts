// One simulated charge point: connects with its OCPP version, boots (retrying while Pending or
// Rejected), reports its connectors, heartbeats at the granted interval and now and then runs a
// transaction with periodic meter values. Commands from the CSMS are answered in commands.ts.
//
// The peer is ocpp-rpc's RPCClient (an OCPP-J implementation independent of the gateway's codec, so
// the simulator is a real interoperability peer; it also brings call correlation, call timeouts and one
// call in flight at a time). Its strict mode is off: ocpp-rpc 2.2.1 looks up "urn:X.req" in a 2.1 file
// that names schemas "urn:XRequest". Instead every CALL this charge point sends and every answer it
// gives is checked with the gateway's own validators (src/validation) before it leaves.
import { randomUUID } from 'node:crypto';
import { RPCClient } from 'ocpp-rpc';
import type { Protocol } from '../ocpp/protocols.js';
import { answerCommand } from './commands.js';
import type { VersionSchemas } from './schemas.js';

export interface ChargePointOptions {
  /** OCPP endpoint without the cpId, e.g. ws://127.0.0.1:33033/ocpp. */
  readonly url: string;
  readonly protocol: Protocol;
  readonly password: string | undefined;
  readonly connectors: number;
  /** Mean idle time of a connector between transactions, seconds; 0 = only remote starts. */
  readonly txGapS: number;
  /** Mean length of a transaction, seconds; 0 = until stopped remotely. */
  readonly txLengthS: number;
  /** Meter sample interval at boot (MeterValueSampleInterval / TxUpdatedInterval), seconds. */
  readonly meterIntervalS: number;
}

/** Counters shared by a fleet, read by its summary line. */
export interface FleetStats {
  online: number;
  accepted: number;
  waiting: number;
  txActive: number;
  txDone: number;
  meterValues: number;
  callsOk: number;
  callsFailed: number;
  commands: number;
  reconnects: number;
  lastError: string | undefined;
}

export function emptyStats(): FleetStats {
  return { online: 0, accepted: 0, waiting: 0, txActive: 0, txDone: 0, meterValues: 0, callsOk: 0, callsFailed: 0, commands: 0, reconnects: 0, lastError: undefined };
}

type BootState = 'offline' | 'booting' | 'pending' | 'rejected' | 'accepted';
export type StopReason = 'Local' | 'Remote' | 'DeAuthorized' | 'HardReset' | 'SoftReset' | 'ImmediateReset';
type Payload = Record<string, unknown>;

export interface Transaction {
  /** 1.6: the integer the CSMS gave; 2.x: a UUID this charge point made. */
  id: number | string;
  readonly idTag: string;
  energyWh: number;
  readonly powerW: number;
  lastSampleAt: number;
  seqNo: number;
  readonly remoteStartId: number | undefined;
  /** Set once Stop/Ended is under way, so two stops never race. */
  ending: boolean;
}

export interface Connector {
  readonly id: number;
  operative: boolean;
  /** ChangeAvailability that waits for the transaction to end (answered Scheduled). */
  scheduledOperative: boolean | undefined;
  /** 'starting' while Authorize/StartTransaction are on their way. */
  tx: Transaction | 'starting' | undefined;
  /** While a transaction winds down (Stop/Ended, then the status notifications): done when it is over. */
  settling: Promise<void> | undefined;
  energyWh: number;
}

/** A setting readable by GetConfiguration (1.6 key) and GetVariables (2.x component/variable). */
export interface Setting {
  readonly key: string;
  readonly component: string;
  readonly variable: string;
  readonly readonly: boolean;
  get(): string;
  /** False when the value is not acceptable. */
  set(value: string): boolean;
}

const DEFAULT_HEARTBEAT_S = 60;
const RETRY_WHEN_NO_INTERVAL_S = 10;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

/** Timers of one charge point, all cleared at once on disconnect and stop. */
class Timers {
  readonly #live = new Set<NodeJS.Timeout>();
  #closed = false;
  /** Nothing is scheduled once closed: late work of a stopped charge point leaves no timer behind. */
  after(ms: number, fn: () => unknown): NodeJS.Timeout | undefined {
    if (this.#closed) return undefined;
    const t = setTimeout(() => {
      this.#live.delete(t);
      void fn();
    }, Math.max(0, ms));
    this.#live.add(t);
    return t;
  }
  cancel(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.#live.delete(t);
  }
  clear(): void {
    for (const t of this.#live) clearTimeout(t);
    this.#live.clear();
  }
  close(): void {
    this.#closed = true;
    this.clear();
  }
  get size(): number {
    return this.#live.size;
  }
}

/** Longest text from a peer (a command's payload, an error message) in one output line. */
export const MAX_SHOWN_CHARS = 300;

/** `text` cut at `max` characters (a peer's text is unbounded: a 1.6 CALLERROR description, a payload). */
export function cut(text: string, max = MAX_SHOWN_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** Uniform in [mean/2, 3·mean/2]: transactions and gaps that do not line up across a fleet. */
function around(meanS: number): number {
  return meanS * 1000 * (0.5 + Math.random());
}

export class SimulatedChargePoint {
  readonly id: string;
  readonly options: ChargePointOptions;
  readonly connectors: Connector[];
  readonly settings: Setting[];
  readonly schemas: VersionSchemas;
  readonly #stats: FleetStats;
  readonly #log: (line: string) => void;
  readonly #timers = new Timers();
  #client: RPCClient | undefined;
  #state: BootState = 'offline';
  #stopped = false;
  #open = false;
  /** Bumped on every connect and disconnect: work of an older connection stops when it sees a new one. */
  #session = 0;
  #heartbeatS = DEFAULT_HEARTBEAT_S;
  #meterS: number;
  #authorizeRemote = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Bumped whenever the heartbeat is rescheduled: a beat of an older schedule does not go on. */
  #heartbeatGeneration = 0;
  /** The connection is being closed for a reset: not counted as a lost connection. */
  #resetting = false;
  #reconnectDelay = RECONNECT_MIN_MS;
  #bootReason = 'PowerUp';
  /** A 2.x Reset OnIdle answered Scheduled: reboot when the last transaction has ended. */
  resetWhenIdle = false;

  constructor(id: string, options: ChargePointOptions, schemas: VersionSchemas, stats: FleetStats, log: (line: string) => void) {
    this.id = id;
    this.options = options;
    this.schemas = schemas;
    this.#stats = stats;
    this.#log = log;
    this.#meterS = options.meterIntervalS;
    this.connectors = Array.from({ length: options.connectors }, (_, i) => ({ id: i + 1, operative: true, scheduledOperative: undefined, tx: undefined, settling: undefined, energyWh: Math.round(Math.random() * 1e6) }));
    this.settings = this.#makeSettings();
  }

  get v16(): boolean {
    return this.options.protocol === 'ocpp1.6';
  }

  get state(): BootState {
    return this.#state;
  }

  get authorizeRemote(): boolean {
    return this.#authorizeRemote;
  }

  /** Timers alive now (0 after stop: nothing is left behind). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  start(): void {
    void this.#connect();
  }

  /** Closes the connection and clears every timer; transactions are left as they are (a power cut). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers.close();
    const client = this.#client;
    this.#lost(client);
    if (client === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)));
    await Promise.race([client.close({ code: 1000, reason: 'simulator stopped' }).catch(() => undefined), deadline]);
    clearTimeout(timer);
    await client.close({ force: true }).catch(() => undefined);
  }

  // ---- connection -------------------------------------------------------------------------------

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new RPCClient({
      endpoint: this.options.url,
      identity: this.id,
      protocols: [this.options.protocol],
      password: this.options.password ?? null,
      reconnect: false,
      strictMode: false,
      callTimeoutMs: 35_000, // a little more than the gateway's upstream.awaiting_timeout (30 s)
    } as unknown as ConstructorParameters<typeof RPCClient>[0]);
    this.#client = client;
    client.handle(async ({ method, params }) => this.#onCommand(String(method), (params ?? {}) as Payload));
    client.on('close', () => this.#lost(client));
    try {
      await client.connect();
    } catch (err) {
      this.#stats.lastError = `${this.id} connect: ${(err as Error).message}`;
      return; // 'close' follows and schedules the next attempt
    }
    if (this.#stopped || this.#client !== client) return void client.close({ force: true }).catch(() => undefined);
    this.#session++;
    this.#open = true;
    this.#stats.online++;
    this.#reconnectDelay = RECONNECT_MIN_MS;
    void this.#boot(this.#bootReason);
  }

  /** The connection is gone (or never came): forget its work, come back with backoff unless stopped. */
  #lost(client: RPCClient | undefined): void {
    if (client === undefined || this.#client !== client) return;
    this.#client = undefined;
    this.#session++;
    if (this.#open) {
      this.#open = false;
      this.#stats.online--;
    }
    this.#setState('offline');
    this.#timers.clear();
    this.#heartbeat = undefined;
    for (const c of this.connectors) {
      if (c.tx !== undefined && c.tx !== 'starting') this.#stats.txActive--;
      c.tx = undefined;
    }
    if (this.#stopped) return;
    if (this.#resetting) this.#resetting = false;
    else this.#stats.reconnects++;
    const delay = this.#reconnectDelay * (0.75 + Math.random() / 2);
    this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, RECONNECT_MAX_MS);
    this.#timers.after(delay, () => this.#connect());
  }

  /** Restart as after a reset: transactions end with `reason`, the connection closes, a new one boots. */
  async reboot(reason: StopReason): Promise<void> {
    this.resetWhenIdle = false;
    // Transactions end first, also those already winding down, then the connection closes once the
    // calls in flight have their answers.
    await Promise.all(this.connectors.map((c) => this.stopTransaction(c, reason)));
    this.#bootReason = 'RemoteReset';
    this.#reconnectDelay = RECONNECT_MIN_MS;
    const client = this.#client;
    if (client === undefined) return;
    this.#resetting = true;
    await client.close({ code: 1000, reason: 'reset', awaitPending: true }).catch(() => undefined);
  }

  #setState(next: BootState): void {
    const waiting = (s: BootState) => s === 'pending' || s === 'rejected' || s === 'booting';
    if (this.#state === 'accepted') this.#stats.accepted--;
    if (waiting(this.#state)) this.#stats.waiting--;
    this.#state = next;
    if (next === 'accepted') this.#stats.accepted++;
    if (waiting(next)) this.#stats.waiting++;
  }

  // ---- calls ------------------------------------------------------------------------------------

  /** Sends a CALL checked against the version's schema first; undefined when it failed or did not fit (counted, not thrown). */
  async call(action: string, payload: Payload): Promise<Payload | undefined> {
    const client = this.#client;
    if (client === undefined) return undefined;
    const problem = this.schemas.problem(action, 'req', payload);
    if (problem !== undefined) {
      // Not sent: e.g. an idTag from a RemoteStartTransaction that a gateway without validation let through.
      this.#stats.callsFailed++;
      this.#stats.lastError = `${this.id} ${action} not sent, it does not fit its schema: ${problem}`;
      return undefined;
    }
    try {
      const answer = (await client.call(action, payload)) as Payload;
      this.#stats.callsOk++;
      return answer ?? {};
    } catch (err) {
      this.#stats.callsFailed++;
      this.#stats.lastError = `${this.id} ${action}: ${(err as Error).message}`;
      return undefined;
    }
  }

  async #onCommand(action: string, payload: Payload): Promise<Payload> {
    this.#stats.commands++;
    try {
      const answer = answerCommand(this, action, payload);
      this.#log(`${this.id} got ${action} ${cut(JSON.stringify(payload))} -> ${cut(JSON.stringify(answer))}`);
      return answer;
    } catch (err) {
      const e = err as { rpcErrorCode?: string; message?: string };
      this.#log(`${this.id} got ${action} ${cut(JSON.stringify(payload))} -> CALLERROR ${e.rpcErrorCode ?? 'InternalError'} ${cut(e.message ?? '')}`);
      throw err;
    }
  }

  /** Runs `fn` once the current answer is on its way (a timer, so it is cleared on disconnect/stop). */
  afterAnswer(fn: () => unknown): void {
    const session = this.#session;
    this.#timers.after(0, () => (session === this.#session ? fn() : undefined));
  }

  // ---- boot and heartbeat -----------------------------------------------------------------------

  async #boot(reason: string): Promise<void> {
    const session = this.#session;
    this.#setState('booting');
    const answer = await this.call('BootNotification', this.bootPayload(reason));
    if (session !== this.#session) return;
    const status = answer?.['status'];
    const interval = typeof answer?.['interval'] === 'number' && answer['interval'] > 0 ? answer['interval'] : undefined;
    if (status === 'Accepted') {
      this.#bootReason = 'PowerUp';
      this.#setState('accepted');
      this.setHeartbeatInterval(interval ?? DEFAULT_HEARTBEAT_S);
      for (const c of this.connectors) {
        await this.sendStatus(c);
        this.#planTransaction(c);
      }
      return;
    }
    // Pending or Rejected: try again after the interval the CSMS gave. [OCPP 1.6 §4.2] [OCPP 2.0.1 B02/B03]
    this.#setState(status === 'Pending' ? 'pending' : 'rejected');
    this.#timers.after((interval ?? RETRY_WHEN_NO_INTERVAL_S) * 1000, () => (session === this.#session ? this.#boot(reason) : undefined));
  }

  bootPayload(reason: string): Payload {
    if (this.v16) return { chargePointVendor: 'ocpp-gateway', chargePointModel: 'Simulator', chargePointSerialNumber: this.id.slice(0, 25), firmwareVersion: 'sim-1' };
    return { reason, chargingStation: { vendorName: 'ocpp-gateway', model: 'Simulator', serialNumber: this.id.slice(0, 25), firmwareVersion: 'sim-1' } };
  }

  /** A BootNotification asked for by TriggerMessage: a new interval is taken if Accepted. */
  async bootAgain(): Promise<void> {
    const answer = await this.call('BootNotification', this.bootPayload('Triggered'));
    if (answer?.['status'] === 'Accepted' && typeof answer['interval'] === 'number' && answer['interval'] > 0) this.setHeartbeatInterval(answer['interval']);
  }

  get heartbeatS(): number {
    return this.#heartbeatS;
  }

  /** (Re)starts the heartbeat at `seconds` (the granted interval, or HeartbeatInterval when changed). */
  setHeartbeatInterval(seconds: number): void {
    this.#heartbeatS = seconds;
    this.#timers.cancel(this.#heartbeat);
    this.#heartbeat = undefined;
    const generation = ++this.#heartbeatGeneration;
    if (this.#state !== 'accepted' || seconds <= 0) return;
    const beat = async (): Promise<void> => {
      await this.call('Heartbeat', {});
      if (generation === this.#heartbeatGeneration) this.#heartbeat = this.#timers.after(seconds * 1000, beat);
    };
    this.#heartbeat = this.#timers.after(seconds * 1000, beat);
  }

  get meterS(): number {
    return this.#meterS;
  }

  // ---- connectors -------------------------------------------------------------------------------

  connectorStatus(c: Connector): string {
    if (c.tx !== undefined) return this.v16 ? 'Charging' : 'Occupied';
    return c.operative ? 'Available' : 'Unavailable';
  }

  async sendStatus(c: Connector, status = this.connectorStatus(c)): Promise<void> {
    const timestamp = new Date().toISOString();
    if (this.v16) await this.call('StatusNotification', { connectorId: c.id, errorCode: 'NoError', status, timestamp });
    else await this.call('StatusNotification', { timestamp, connectorStatus: status, evseId: c.id, connectorId: 1 });
  }

  /** ChangeAvailability on an idle connector: takes effect now, with a StatusNotification. */
  async setOperative(c: Connector, operative: boolean): Promise<void> {
    c.scheduledOperative = undefined;
    if (c.operative === operative) return;
    c.operative = operative;
    await this.sendStatus(c);
    if (operative) this.#planTransaction(c);
  }

  #planTransaction(c: Connector): void {
    if (this.options.txGapS <= 0 || !c.operative) return;
    const session = this.#session;
    this.#timers.after(around(this.options.txGapS), async () => {
      if (session !== this.#session || !c.operative) return;
      const started = await this.startTransaction(c, undefined);
      // Busy or refused: try again after another gap.
      if (!started && session === this.#session && c.tx === undefined) this.#planTransaction(c);
    });
  }

  freeConnector(id: number | undefined): Connector | undefined {
    if (id !== undefined && id > 0) {
      const c = this.connectors[id - 1];
      return c !== undefined && c.operative && c.tx === undefined ? c : undefined;
    }
    return this.connectors.find((c) => c.operative && c.tx === undefined);
  }

  transaction(id: unknown): [Connector, Transaction] | undefined {
    for (const c of this.connectors) if (c.tx !== undefined && c.tx !== 'starting' && c.tx.id === id && !c.tx.ending) return [c, c.tx];
    return undefined;
  }

  // ---- transactions -----------------------------------------------------------------------------

  #sample(c: Connector, tx: Transaction | undefined, context: string): Payload {
    const now = Date.now();
    if (tx !== undefined) {
      tx.energyWh += (tx.powerW * (now - tx.lastSampleAt)) / 3_600_000;
      tx.lastSampleAt = now;
      c.energyWh = tx.energyWh;
    }
    const energy = Math.round(c.energyWh);
    const power = tx === undefined ? 0 : tx.powerW;
    const timestamp = new Date(now).toISOString();
    if (this.v16) {
      return {
        timestamp,
        sampledValue: [
          { value: String(energy), context, measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
          { value: String(power), context, measurand: 'Power.Active.Import', unit: 'W' },
        ],
      };
    }
    return {
      timestamp,
      sampledValue: [
        { value: energy, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
        { value: power, context, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } },
      ],
    };
  }

  /**
   * Starts a transaction on `c` (local when `remote` is absent: authorised first). False when the
   * connector is busy or the idTag was refused before a transaction began.
   */
  async startTransaction(c: Connector, remote: { idTag: string; remoteStartId: number | undefined } | undefined): Promise<boolean> {
    if (this.#state !== 'accepted' || c.tx !== undefined || !c.operative) return false;
    const session = this.#session;
    c.tx = 'starting';
    const idTag = remote?.idTag ?? `SIMTAG${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    const idToken = { idToken: idTag, type: 'ISO14443' };
    const release = (): false => {
      if (session === this.#session && c.tx === 'starting') c.tx = undefined;
      return false;
    };
    if (remote === undefined || this.#authorizeRemote) {
      const auth = await this.call('Authorize', this.v16 ? { idTag } : { idToken });
      const info = (auth?.[this.v16 ? 'idTagInfo' : 'idTokenInfo'] ?? {}) as Payload;
      if (session !== this.#session || info['status'] !== 'Accepted') return release();
    }
    const powerW = 3700 + Math.round(Math.random() * 7300);
    const tx: Transaction = { id: 0, idTag, energyWh: c.energyWh, powerW, lastSampleAt: Date.now(), seqNo: 0, remoteStartId: remote?.remoteStartId, ending: false };
    let accepted: boolean;
    if (this.v16) {
      await this.sendStatus(c, 'Preparing');
      const answer = await this.call('StartTransaction', { connectorId: c.id, idTag, meterStart: Math.round(tx.energyWh), timestamp: new Date().toISOString() });
      if (session !== this.#session || typeof answer?.['transactionId'] !== 'number') {
        if (session === this.#session) await this.sendStatus(c, 'Available');
        return release();
      }
      tx.id = answer['transactionId'];
      accepted = ((answer['idTagInfo'] ?? {}) as Payload)['status'] === 'Accepted';
    } else {
      tx.id = randomUUID();
      await this.sendStatus(c, 'Occupied');
      const answer = await this.call('TransactionEvent', {
        eventType: 'Started',
        timestamp: new Date().toISOString(),
        triggerReason: remote === undefined ? 'Authorized' : 'RemoteStart',
        seqNo: tx.seqNo++,
        transactionInfo: { transactionId: tx.id, chargingState: 'Charging', ...(tx.remoteStartId !== undefined ? { remoteStartId: tx.remoteStartId } : {}) },
        evse: { id: c.id, connectorId: 1 },
        idToken,
        meterValue: [this.#sample(c, undefined, 'Transaction.Begin')],
      });
      if (session !== this.#session) return release();
      // No answer still started the transaction on a real station; the idTokenInfo decides.
      accepted = ((answer?.['idTokenInfo'] ?? { status: 'Accepted' }) as Payload)['status'] === 'Accepted';
    }
    c.tx = tx;
    this.#stats.txActive++;
    if (this.v16) await this.sendStatus(c, 'Charging');
    if (!accepted) {
      await this.stopTransaction(c, 'DeAuthorized'); // it started, and the CSMS ended it at once
      return true;
    }
    this.#meterLoop(c, tx, session);
    if (this.options.txLengthS > 0) this.#timers.after(around(this.options.txLengthS), () => (session === this.#session ? this.stopTransaction(c, 'Local') : undefined));
    return true;
  }

  #meterLoop(c: Connector, tx: Transaction, session: number): void {
    this.#timers.after(this.#meterS * 1000, async () => {
      if (session !== this.#session || c.tx !== tx || tx.ending) return;
      await this.sendMeterValues(c, 'Sample.Periodic');
      this.#meterLoop(c, tx, session);
    });
  }

  /**
   * Meter values of `c`: MeterValues in 1.6; in 2.x a TransactionEvent Updated while a transaction runs
   * (MeterValues when `asMeterValues`, as TriggerMessage MeterValues asks, or without a transaction).
   */
  async sendMeterValues(c: Connector, context: 'Sample.Periodic' | 'Trigger', asMeterValues = false): Promise<void> {
    const tx = c.tx === 'starting' ? undefined : c.tx;
    if (this.v16) {
      await this.call('MeterValues', { connectorId: c.id, ...(tx !== undefined ? { transactionId: tx.id } : {}), meterValue: [this.#sample(c, tx, context)] });
    } else if (tx !== undefined && !asMeterValues) {
      await this.call('TransactionEvent', {
        eventType: 'Updated',
        timestamp: new Date().toISOString(),
        triggerReason: context === 'Trigger' ? 'Trigger' : 'MeterValuePeriodic',
        seqNo: tx.seqNo++,
        transactionInfo: { transactionId: tx.id, chargingState: 'Charging' },
        meterValue: [this.#sample(c, tx, context)],
      });
    } else {
      await this.call('MeterValues', { evseId: c.id, meterValue: [this.#sample(c, tx, context)] });
    }
    this.#stats.meterValues++;
  }

  /**
   * Ends the transaction on `c` (if any) with StopTransaction / TransactionEvent Ended and the status
   * notifications that follow; resolves when all of that is done (also when it was already under way).
   */
  stopTransaction(c: Connector, reason: StopReason): Promise<void> {
    const tx = c.tx;
    if (tx === 'starting') return Promise.resolve();
    if (tx === undefined || tx.ending) return c.settling ?? Promise.resolve();
    tx.ending = true;
    const done = this.#endTransaction(c, tx, reason).finally(() => {
      if (c.settling === done) c.settling = undefined;
    });
    c.settling = done;
    return done;
  }

  async #endTransaction(c: Connector, tx: Transaction, reason: StopReason): Promise<void> {
    const session = this.#session;
    const last = this.#sample(c, tx, 'Transaction.End');
    if (this.v16) {
      await this.call('StopTransaction', { transactionId: tx.id, idTag: tx.idTag, meterStop: Math.round(tx.energyWh), timestamp: new Date().toISOString(), reason, transactionData: [last] });
    } else {
      const trigger = { Local: 'StopAuthorized', Remote: 'RemoteStop', DeAuthorized: 'Deauthorized', HardReset: 'ResetCommand', SoftReset: 'ResetCommand', ImmediateReset: 'ResetCommand' }[reason];
      await this.call('TransactionEvent', {
        eventType: 'Ended',
        timestamp: new Date().toISOString(),
        triggerReason: trigger,
        seqNo: tx.seqNo++,
        transactionInfo: { transactionId: tx.id, chargingState: 'Idle', stoppedReason: reason === 'HardReset' || reason === 'SoftReset' ? 'ImmediateReset' : reason },
        meterValue: [last],
      });
    }
    if (session !== this.#session || c.tx !== tx) return; // the connection went meanwhile: already forgotten
    c.tx = undefined;
    this.#stats.txActive--;
    this.#stats.txDone++;
    if (reason === 'HardReset' || reason === 'SoftReset' || reason === 'ImmediateReset') return; // rebooting
    if (c.scheduledOperative !== undefined) c.operative = c.scheduledOperative;
    c.scheduledOperative = undefined;
    if (this.v16) await this.sendStatus(c, 'Finishing');
    await this.sendStatus(c);
    if (this.resetWhenIdle && this.connectors.every((x) => x.tx === undefined)) {
      // The Reset OnIdle that was Scheduled; after this wind-down is over (reboot waits for it).
      this.#timers.after(0, () => (session === this.#session ? this.reboot('ImmediateReset') : undefined));
      return;
    }
    if (c.operative) this.#planTransaction(c);
  }

  // ---- settings ---------------------------------------------------------------------------------

  #makeSettings(): Setting[] {
    const seconds = (apply: (s: number) => void) => (v: string): boolean => {
      if (!/^\d{1,6}$/.test(v)) return false;
      apply(Number(v));
      return true;
    };
    const flag = (apply: (b: boolean) => void) => (v: string): boolean => {
      if (v !== 'true' && v !== 'false') return false;
      apply(v === 'true');
      return true;
    };
    const fixed = (value: () => string) => ({ readonly: true, get: value, set: () => false });
    return [
      { key: 'HeartbeatInterval', component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval', readonly: false, get: () => String(this.#heartbeatS), set: seconds((s) => this.setHeartbeatInterval(s)) },
      { key: 'MeterValueSampleInterval', component: 'SampledDataCtrlr', variable: 'TxUpdatedInterval', readonly: false, get: () => String(this.#meterS), set: seconds((s) => (this.#meterS = Math.max(1, s))) },
      { key: 'AuthorizeRemoteTxRequests', component: 'AuthCtrlr', variable: 'AuthorizeRemoteStart', readonly: false, get: () => String(this.#authorizeRemote), set: flag((b) => (this.#authorizeRemote = b)) },
      { key: 'NumberOfConnectors', component: 'EVSE', variable: 'Count', ...fixed(() => String(this.connectors.length)) },
      { key: 'MeterValuesSampledData', component: 'SampledDataCtrlr', variable: 'TxUpdatedMeasurands', ...fixed(() => 'Energy.Active.Import.Register,Power.Active.Import') },
      { key: 'ChargePointId', component: 'SecurityCtrlr', variable: 'Identity', ...fixed(() => this.id) },
    ];
  }
}
