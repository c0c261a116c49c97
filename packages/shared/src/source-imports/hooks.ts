/**
 * Module resolution hooks for a worker thread started from this package's
 * TypeScript sources (vitest runs them; Node strips their types): the
 * sources import each other as `./x.js`, which exists only after a build,
 * so a relative `.js` that is not found is looked up as `.ts`.
 */
interface ResolveContext {
  parentURL?: string | undefined;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith("./") || specifier.startsWith("../");
    if (relative && specifier.endsWith(".js") && (err as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND")
      return next(`${specifier.slice(0, -3)}.ts`, context);
    throw err;
  }
}
