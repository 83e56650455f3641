/**
 * The session's side of the audit trail: a write-ahead outbox in the
 * session's own SQLite.
 *
 * A decision is durable here before the action runs (if this write fails, the
 * call fails closed), with no round trip on the call's path. Once a record is
 * final (the action ran, failed, or was never going to run) it is shipped, in
 * batches, to the principal's AuditLog, where people read it a few
 * milliseconds later. Whatever could not be shipped stays here and is retried:
 * soon after a failure, at the next start of the session, and by a durable
 * wake-up the session schedules while anything is waiting.
 */
import type { AuditEntry, AuditTrail } from "../guard/audit";
import type { ShippedRecord } from "../state/audit-log";

/** Waiting a moment lets concurrent calls share one shipment. */
const SHIP_DELAY_MS = 20;
const BATCH = 500;

export interface OutboxHost {
	sql: SqlStorage;
	ship(records: ShippedRecord[]): Promise<void>;
	/** Keeps the object alive for background work. */
	waitUntil(promise: Promise<unknown>): void;
	/** Asks for a durable wake-up that calls `wokeUp` (idempotent); a promise it returns may reject. */
	scheduleRetry(): unknown;
}

export class AuditOutbox implements AuditTrail {
	#shipping: Promise<void> | undefined;
	#again = false;
	/**
	 * A durable wake-up was asked for and has not run yet. It is cleared only
	 * when the wake-up runs (`wokeUp`), not after each shipment: asking again
	 * on every call would cost the scheduler's SQL on the call's path, and a
	 * wake-up that finds nothing waiting does nothing.
	 */
	#wakeUpPending = false;

	constructor(private readonly host: OutboxHost) {
		host.sql.exec(`CREATE TABLE IF NOT EXISTS audit_outbox (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			entry TEXT NOT NULL,
			outcome TEXT NOT NULL,
			error TEXT,
			created_at INTEGER NOT NULL,
			completed_at INTEGER
		)`);
	}

	async record(entry: AuditEntry): Promise<number> {
		const { id } = this.host.sql
			.exec<{ id: number }>(
				"INSERT INTO audit_outbox (entry, outcome, created_at) VALUES (?, ?, ?) RETURNING id",
				JSON.stringify(entry),
				entry.outcome,
				Date.now(),
			)
			.one();
		// Until it has shipped, a durable wake-up makes sure it does even if this session is never used again.
		this.#askForWakeUp();
		if (entry.outcome !== "pending") this.#kick();
		return id;
	}

	async complete(id: number, outcome: Parameters<AuditTrail["complete"]>[1], error?: string): Promise<void> {
		this.host.sql.exec(
			"UPDATE audit_outbox SET outcome = ?, error = ?, completed_at = ? WHERE id = ?",
			outcome,
			error ?? null,
			Date.now(),
			id,
		);
		this.#kick();
	}

	/**
	 * Ships every final record now. A record still `pending` (its action never
	 * reported back, e.g. the object was restarted mid-call) is shipped as it
	 * is once it is older than `stalePendingBefore`.
	 */
	async shipAll(stalePendingBefore = 0): Promise<void> {
		for (;;) {
			const rows = this.host.sql
				.exec<{ id: number; entry: string; outcome: string; error: string | null; completed_at: number | null }>(
					`SELECT id, entry, outcome, error, completed_at FROM audit_outbox
					 WHERE outcome != 'pending' OR created_at < ? ORDER BY id LIMIT ${BATCH}`,
					stalePendingBefore,
				)
				.toArray();
			if (rows.length === 0) break;
			await this.host.ship(
				rows.map((r) => ({
					entry: JSON.parse(r.entry) as AuditEntry,
					outcome: r.outcome as AuditEntry["outcome"],
					error: r.error,
					completed_at: r.completed_at,
				})),
			);
			const ids = rows.map((r) => r.id);
			this.host.sql.exec(`DELETE FROM audit_outbox WHERE id IN (${ids.map(() => "?").join(",")})`, ...ids);
			if (rows.length < BATCH) break;
		}
	}

	/** The durable wake-up runs: ships what waits, and asks for another wake-up if anything is still left. */
	async wokeUp(stalePendingBefore: number): Promise<void> {
		this.#wakeUpPending = false;
		try {
			await this.shipAll(stalePendingBefore);
		} finally {
			if (this.waiting() > 0) this.#askForWakeUp();
		}
	}

	waiting(): number {
		return this.host.sql.exec<{ n: number }>("SELECT count(*) AS n FROM audit_outbox").one().n;
	}

	/** Ships soon, in the background; one shipment at a time. */
	#kick(): void {
		if (this.#shipping) {
			this.#again = true;
			return;
		}
		this.#shipping = (async () => {
			do {
				this.#again = false;
				await new Promise((resolve) => setTimeout(resolve, SHIP_DELAY_MS));
				await this.shipAll();
			} while (this.#again);
		})()
			.catch((error) => {
				console.error(`audit: shipping to the audit log failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
				this.#askForWakeUp();
			})
			.finally(() => {
				this.#shipping = undefined;
			});
		this.host.waitUntil(this.#shipping);
	}

	#askForWakeUp(): void {
		if (this.#wakeUpPending) return;
		this.#wakeUpPending = true;
		const forgetIt = (error: unknown) => {
			// No wake-up was scheduled: ask again next time.
			this.#wakeUpPending = false;
			console.error(`audit: could not schedule shipping: ${error instanceof Error ? error.message : String(error)}`);
		};
		try {
			const asked = this.host.scheduleRetry();
			if (asked instanceof Promise) asked.catch(forgetIt);
		} catch (error) {
			forgetIt(error);
		}
	}

	/** Waits for a shipment in flight, then ships what is left (for readers of the trail). */
	async settle(): Promise<void> {
		await this.#shipping;
		await this.shipAll();
	}
}
