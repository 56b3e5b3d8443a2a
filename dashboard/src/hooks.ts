import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import type { DashboardConfiguration } from "@riffle/shared/rest-api";
import { ApiError } from "./api.js";

/** The JobManager's /config, read once at start (and again after signing in). */
export const ConfigContext = createContext<DashboardConfiguration | null>(null);

export function useConfig(): DashboardConfiguration {
  const config = useContext(ConfigContext);
  if (!config) throw new Error("the dashboard's configuration is not loaded");
  return config;
}

/** Whether the caller may act (submit, cancel, savepoint, stop, rescale). */
export function useCanOperate(): boolean {
  const { auth } = useConfig();
  return !auth.enabled || auth.role === "operator";
}

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Fetches again now (after an action). */
  reload(): void;
}

/**
 * Live data: fetches at once and then every refresh interval, one request at a time (the next is
 * scheduled when the previous answered), so a slow JobManager is never flooded. Stops on unmount
 * and restarts when `key` changes.
 */
export function usePoll<T>(fetcher: () => Promise<T>, key: string, intervalMs?: number): Polled<T> {
  const config = useContext(ConfigContext);
  const every = intervalMs ?? config?.["refresh-interval"] ?? 2_000;
  const [state, setState] = useState<{ key: string; data?: T; error?: ApiError }>({ key });
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const wake = useRef<() => void>(() => {});

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    const tick = async () => {
      if (stopped || inFlight) return;
      inFlight = true;
      clearTimeout(timer);
      try {
        const data = await fetcherRef.current();
        if (!stopped) setState({ key, data });
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(0, "INTERNAL", String(err));
        if (!stopped) setState((s) => ({ key, ...(s.key === key && s.data !== undefined ? { data: s.data } : {}), error: e }));
      } finally {
        inFlight = false;
        if (!stopped) timer = setTimeout(tick, every);
      }
    };
    wake.current = () => void tick();
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, every]);

  const reload = useCallback(() => wake.current(), []);
  const current = state.key === key ? state : { data: undefined, error: undefined };
  return { data: current.data, error: current.error, reload };
}

/** The current time, ticking every `ms` (durations and uptimes that move between polls). */
export function useNow(ms = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
