import { describe, expect, it } from "vitest";
import { MAX_WATERMARK, MIN_WATERMARK } from "@riffle/sdk/internal";
import { StatusWatermarkValve } from "./watermark-valve.js";

/** A valve over `n` channels recording what it tells the head operator. */
function valveOf(n: number) {
  const out: string[] = [];
  const valve = new StatusWatermarkValve(n, {
    processWatermark: (wm) => out.push(`WM ${wm}`),
    processWatermarkStatus: (idle) => out.push(idle ? "IDLE" : "ACTIVE"),
  });
  /** What the valve said since the last call. */
  const said = () => out.splice(0);
  return { valve, said };
}

describe("StatusWatermarkValve", () => {
  it("sends the minimum over the channels once every channel has a watermark", () => {
    const { valve, said } = valveOf(3);
    expect(valve.currentWatermark).toBe(MIN_WATERMARK);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 5);
    expect(said()).toEqual([]);
    valve.inputWatermark(2, 7);
    expect(said()).toEqual(["WM 5"]);
    valve.inputWatermark(1, 12);
    expect(said()).toEqual(["WM 7"]);
    valve.inputWatermark(2, 20);
    expect(said()).toEqual(["WM 10"]);
    expect(valve.currentWatermark).toBe(10);
  });

  it("never goes backwards: late channel watermarks and repeats are ignored", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 10);
    expect(said()).toEqual(["WM 10"]);
    valve.inputWatermark(0, 4); // behind the channel's own watermark
    valve.inputWatermark(1, 10);
    expect(said()).toEqual([]);
    valve.inputWatermark(0, 11);
    expect(said()).toEqual([]);
    expect(valve.currentWatermark).toBe(10);
  });

  it("leaves idle channels out of the minimum and ignores their watermarks", () => {
    const { valve, said } = valveOf(3);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 20);
    valve.inputWatermarkStatus(2, true); // never sent one: no longer holds the others back
    expect(said()).toEqual(["WM 10"]);
    valve.inputWatermark(2, 1); // idle: ignored
    valve.inputWatermarkStatus(0, true); // the minimum went idle: the next one counts
    expect(said()).toEqual(["WM 20"]);
    expect(valve.isIdle).toBe(false);
  });

  it("goes idle once when every channel is idle, flushing to the highest watermark", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 30);
    expect(said()).toEqual(["WM 10"]);
    valve.inputWatermarkStatus(1, true);
    expect(said()).toEqual([]); // channel 1 was not the minimum
    valve.inputWatermarkStatus(0, true);
    // Nothing holds event time back any more: everything any channel promised is released.
    expect(said()).toEqual(["WM 30", "IDLE"]);
    valve.inputWatermarkStatus(0, true);
    expect(said()).toEqual([]);
    expect(valve.isIdle).toBe(true);
  });

  it("a channel active again counts only once it caught up with the output watermark", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermark(0, 50);
    valve.inputWatermark(1, 50);
    valve.inputWatermarkStatus(0, true);
    valve.inputWatermark(1, 100);
    expect(said()).toEqual(["WM 50", "WM 100"]);
    valve.inputWatermarkStatus(0, false); // its 50 is behind 100: not counted yet
    valve.inputWatermark(1, 120);
    expect(said()).toEqual(["WM 120"]);
    valve.inputWatermark(0, 110); // still behind
    expect(said()).toEqual([]);
    valve.inputWatermark(0, 130); // caught up: counts again, and holds the minimum
    valve.inputWatermark(1, 200);
    expect(said()).toEqual(["WM 130"]);
  });

  it("reactivation after all-idle sends active once, and the output stays where it was", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermark(0, 5);
    valve.inputWatermark(1, 8);
    valve.inputWatermarkStatus(0, true);
    valve.inputWatermarkStatus(1, true);
    expect(said()).toEqual(["WM 5", "WM 8", "IDLE"]);
    valve.inputWatermarkStatus(0, false); // its 5 is behind 8
    valve.inputWatermarkStatus(1, false); // its 8 is the output watermark: counted at once
    expect(said()).toEqual(["ACTIVE"]);
    valve.inputWatermark(1, 9);
    expect(said()).toEqual(["WM 9"]);
    valve.inputWatermark(0, 9); // catches up without moving the minimum
    valve.inputWatermark(1, 12);
    valve.inputWatermark(0, 11);
    expect(said()).toEqual(["WM 11"]);
  });

  it("leaves ended channels out of the minimum", () => {
    const { valve, said } = valveOf(3);
    valve.inputWatermark(0, 3);
    valve.inputWatermark(1, 10);
    valve.inputWatermark(2, 12);
    expect(said()).toEqual(["WM 3"]);
    valve.channelEnded(0);
    expect(said()).toEqual(["WM 10"]);
    valve.inputWatermark(1, MAX_WATERMARK);
    valve.channelEnded(1);
    expect(said()).toEqual(["WM 12"]);
    valve.channelEnded(1); // once only
    valve.inputWatermark(2, MAX_WATERMARK);
    valve.channelEnded(2); // every channel ended: nothing more to say
    expect(said()).toEqual([`WM ${MAX_WATERMARK}`]);
  });

  it("goes idle when the last active channel ends and the others are idle", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermarkStatus(1, true);
    valve.inputWatermark(0, 7);
    expect(said()).toEqual(["WM 7"]);
    valve.channelEnded(0);
    expect(said()).toEqual(["IDLE"]);
    valve.inputWatermarkStatus(1, false);
    expect(said()).toEqual(["ACTIVE"]);
    valve.inputWatermark(1, 9);
    expect(said()).toEqual(["WM 9"]);
  });

  it("an idle channel that ends changes nothing", () => {
    const { valve, said } = valveOf(2);
    valve.inputWatermarkStatus(0, true);
    valve.inputWatermark(1, 4);
    valve.channelEnded(0);
    valve.inputWatermarkStatus(0, false); // ended: ignored
    expect(said()).toEqual(["WM 4"]);
    expect(valve.isIdle).toBe(false);
  });

  it("one valve over both inputs of a two-input head: the minimum over all their channels", () => {
    // Input 1 has channels 0-1, input 2 has channel 2 (the task numbers channels of all gates in one row).
    const { valve, said } = valveOf(3);
    valve.inputWatermark(0, 100);
    valve.inputWatermark(1, 90);
    expect(said()).toEqual([]); // input 2 has not sent one yet
    valve.inputWatermark(2, 40);
    expect(said()).toEqual(["WM 40"]);
    valve.inputWatermarkStatus(2, true);
    expect(said()).toEqual(["WM 90"]);
  });

  it("rejects an unknown channel with a typed error", () => {
    const { valve } = valveOf(1);
    expect(() => valve.inputWatermark(1, 0)).toThrow(/has no channel 1/);
  });
});
