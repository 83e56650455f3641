// Module types of what wrangler bundles by rule (wrangler.jsonc "rules"): policy text, and compiled WebAssembly.
declare module "*.cedar" {
	const text: string;
	export default text;
}
declare module "*.cedarschema" {
	const text: string;
	export default text;
}
declare module "*.wasm" {
	const module: WebAssembly.Module;
	export default module;
}
