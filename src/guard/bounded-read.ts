/**
 * Reads a byte stream up to a limit and no further: what comes from the
 * network (a request body, Stage0's answer) is never buffered past its cap.
 */

/** The whole stream's bytes, or undefined (and the stream cancelled) once it passes `cap` bytes. */
export async function readAtMost(stream: ReadableStream<Uint8Array>, cap: number): Promise<Uint8Array | undefined> {
	const reader = stream.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > cap) {
			await reader.cancel().catch(() => {});
			return undefined;
		}
		chunks.push(value);
	}
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return bytes;
}
