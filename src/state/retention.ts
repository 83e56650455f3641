/**
 * The daily retention alarm shared by the objects that keep records
 * (AuditLog, ApprovalStore): armed on the first write of an instance, re-armed
 * by the alarm itself while anything is left to prune later.
 */
const DAY_MS = 24 * 3600 * 1000;

export class RetentionAlarm {
	#armed = false;
	constructor(private readonly storage: DurableObjectStorage) {}

	/** Call after a write: makes sure a pruning pass is scheduled. */
	async arm(): Promise<void> {
		if (this.#armed) return;
		this.#armed = true;
		if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(Date.now() + DAY_MS);
	}

	/** Call at the end of a pruning pass. */
	async rearm(anythingLeft: boolean): Promise<void> {
		if (anythingLeft) await this.storage.setAlarm(Date.now() + DAY_MS);
		else this.#armed = false;
	}
}
