import { useEffect, useState } from "preact/hooks";

/**
 * Hash routes (`#/jobs/<id>/checkpoints`): the JobManager serves one index.html at `/`, so every
 * screen lives after the `#`, and reloading a screen reloads the same screen.
 */
export function useRoute(): string[] {
  const parse = () =>
    location.hash
      .replace(/^#\/?/, "")
      .split("/")
      .filter((p) => p.length > 0)
      .map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = () => setRoute(parse());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

export function navigate(...parts: string[]): void {
  location.hash = href(...parts);
}
