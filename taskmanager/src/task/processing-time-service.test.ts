import { describe, expect, it } from "vitest";
import { Mailbox } from "./mailbox.js";
import { MailboxProcessingTimeService } from "./processing-time-service.js";

/** Runs the mailbox as the task loop does: mail runs only when the loop takes it. */
async function nextMail(mailbox: Mailbox, deadlineMs = 5000): Promise<void> {
  const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no mail before the deadline")), deadlineMs).unref());
  if (!mailbox.hasMail()) await Promise.race([mailbox.arrival(), deadline]);
}

describe("MailboxProcessingTimeService", () => {
  it("runs a timer's callback as mail once the clock passed its time, with the time it was registered for", async () => {
    const mailbox = new Mailbox();
    const service = new MailboxProcessingTimeService(mailbox);
    const fired: number[] = [];
    const at = service.getCurrentProcessingTime() + 20;
    service.registerTimer(at, (t) => fired.push(t));
    await nextMail(mailbox);
    expect(fired).toEqual([]); // not before the loop takes the mail
    mailbox.runAll();
    expect(fired).toEqual([at]);
    // Only once the clock has passed the timer's time: a record can no longer arrive at `at`.
    expect(Date.now()).toBeGreaterThan(at);
    expect(service.pendingTimers).toBe(0);
  });

  it("fires a timer in the past at once", async () => {
    const mailbox = new Mailbox();
    const service = new MailboxProcessingTimeService(mailbox);
    const fired: number[] = [];
    service.registerTimer(0, (t) => fired.push(t));
    await nextMail(mailbox);
    mailbox.runAll();
    expect(fired).toEqual([0]);
  });

  it("cancels a timer, also one that fired and whose mail has not run", async () => {
    const mailbox = new Mailbox();
    const service = new MailboxProcessingTimeService(mailbox);
    const fired: string[] = [];
    const cancelEarly = service.registerTimer(Date.now() + 10, () => fired.push("early"));
    cancelEarly();
    const cancelLate = service.registerTimer(0, () => fired.push("late"));
    service.registerTimer(Date.now() + 30, () => fired.push("kept"));
    await nextMail(mailbox);
    cancelLate();
    mailbox.runAll();
    await nextMail(mailbox);
    mailbox.runAll();
    expect(fired).toEqual(["kept"]);
  });

  it("drops every pending timer on shutdown, and registers none after", async () => {
    const mailbox = new Mailbox();
    const service = new MailboxProcessingTimeService(mailbox);
    const fired: string[] = [];
    service.registerTimer(0, () => fired.push("queued"));
    service.registerTimer(Date.now() + 60_000, () => fired.push("pending"));
    await nextMail(mailbox);
    service.shutdown();
    expect(service.pendingTimers).toBe(0);
    service.registerTimer(0, () => fired.push("after"));
    expect(service.pendingTimers).toBe(0);
    mailbox.runAll();
    expect(fired).toEqual([]);
  });
});
