/**
 * The key a loop budget is counted under. A workflow id is normalised so that
 * ids a person reads as the same (other letter case, fullwidth or
 * mathematical letters, look-alike Cyrillic or Greek letters, accents,
 * invisible, bidi and control characters, extra whitespace) share one budget.
 * Merging too much only makes a budget stricter; merging too little lets an
 * agent reset its loop by renaming it, so the mapping errs on merging.
 */

/** Letters that look like Latin ones (after lower-casing), and dash look-alikes. */
const LOOK_ALIKES: Record<string, string> = {
	// Cyrillic
	а: "a",
	в: "b",
	г: "r",
	е: "e",
	ё: "e",
	з: "3",
	і: "i",
	ї: "i",
	ј: "j",
	к: "k",
	м: "m",
	н: "h",
	о: "o",
	п: "n",
	р: "p",
	с: "c",
	т: "t",
	у: "y",
	х: "x",
	ь: "b",
	ѕ: "s",
	ԁ: "d",
	ԛ: "q",
	ԝ: "w",
	һ: "h",
	ӏ: "l",
	ў: "y",
	// Greek
	α: "a",
	β: "b",
	γ: "y",
	ε: "e",
	ζ: "z",
	η: "n",
	ι: "i",
	κ: "k",
	μ: "u",
	ν: "v",
	ο: "o",
	ρ: "p",
	τ: "t",
	υ: "u",
	χ: "x",
	ω: "w",
	ς: "c",
	// Latin
	ı: "i",
	ȷ: "j",
	ɡ: "g",
	ℓ: "l",
	// dashes and minus signs
	"‐": "-",
	"‑": "-",
	"‒": "-",
	"–": "-",
	"—": "-",
	"―": "-",
	"−": "-",
	"⁃": "-",
};
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join("")}]`, "gu");

/** Invisible: format characters (zero-width, bidi controls, soft hyphen), controls, other default-ignorables. */
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Default_Ignorable_Code_Point}]/gu;

/** The normalised key; empty if nothing visible is left (the caller must refuse it). */
export function normalizeLoopKey(raw: string): string {
	return raw
		.replace(/\s+/gu, " ") // before controls go: a tab or newline separates words
		.normalize("NFKD") // compatibility forms (fullwidth, mathematical) and accents apart
		.replace(INVISIBLE, "")
		.replace(/\p{Mn}/gu, "") // accents and other combining marks
		.toLowerCase()
		.replace(LOOK_ALIKE, (ch) => LOOK_ALIKES[ch])
		.normalize("NFKC")
		.replace(/\s+/gu, " ")
		.trim();
}
