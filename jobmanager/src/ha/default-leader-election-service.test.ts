import { RiffleError } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../testing/fixtures.js";
import { RecordingContender } from "../testing/recording-contender.js";
import { TestingLeaderElectionDriver } from "../testing/testing-leader-election-driver.js";
import { DefaultLeaderElectionService } from "./default-leader-election-service.js";

const ADDRESS = { rpcAddress: "127.0.0.1:6123", restAddress: "http://127.0.0.1:8081" };

function setup() {
  const driver = new TestingLeaderElectionDriver();
  const service = new DefaultLeaderElectionService(driver, "jm-1", silentLogger);
  const contender = new RecordingContender("jm-1");
  service.start(contender);
  return { driver, service, contender };
}

describe("DefaultLeaderElectionService", () => {
  it("passes grants and revocations to the contender, and moves between the election states", () => {
    const { driver, service, contender } = setup();
    expect(service.state).toBe("campaigning");
    const session = driver.grant();
    expect(service.state).toBe("leading");
    expect(contender.grants.map((g) => g.session)).toEqual([session]);
    expect(service.hasLeadership(session)).toBe(true);

    driver.revoke("LEASE_NOT_RENEWED");
    expect(service.state).toBe("campaigning");
    expect(contender.revocations).toMatchObject([{ session, reason: "LEASE_NOT_RENEWED", activeDuringCall: false }]);
    expect(service.hasLeadership(session)).toBe(false);
    expect(() => service.start(contender)).toThrow(/already campaigning/);
  });

  it("ignores the revocation of a session that is not the current one", () => {
    const { driver, contender } = setup();
    const first = driver.grant();
    driver.revoke("LEASE_NOT_RENEWED", first);
    const second = driver.grant();
    driver.revoke("ELECTION_KEY_GONE", first); // late news of the old session
    expect(contender.revocations).toHaveLength(1);
    expect(contender.grants.at(-1)?.session).toBe(second);
  });

  it("publishes the leader information only for the current session", async () => {
    const { driver, service } = setup();
    const session = driver.grant();
    const info = await service.confirmLeadership(session, ADDRESS);
    expect(info).toEqual({ leaderId: "jm-1", token: session.token, ...ADDRESS });
    expect(driver.published).toEqual([info]);
    expect(service.confirmed).toEqual(info);

    driver.revoke();
    expect(service.confirmed).toBeUndefined();
    await expect(service.confirmLeadership(session, ADDRESS)).rejects.toMatchObject({ code: "LEADERSHIP_LOST" });
  });

  it("does not call a session confirmed when it ended while its information was written", async () => {
    const { driver, service } = setup();
    const session = driver.grant();
    driver.publish = async () => driver.revoke("LEASE_NOT_RENEWED", session);
    await expect(service.confirmLeadership(session, ADDRESS)).rejects.toMatchObject({ code: "LEADERSHIP_LOST" });
    expect(service.confirmed).toBeUndefined();
  });

  it("keeps a contender's failure away from the driver, and hands it to the contender", () => {
    const { driver, contender } = setup();
    contender.grantLeadership = () => {
      throw new Error("cannot start the leader part");
    };
    driver.grant();
    expect(contender.events).toMatchObject([{ type: "error", error: { code: "INTERNAL", message: "cannot start the leader part" } }]);
    driver.listener?.onError(new RiffleError("HA_UNAVAILABLE", "etcd unreachable at http://127.0.0.1:2379"));
    expect(contender.events.at(-1)).toMatchObject({ type: "error", error: { code: "HA_UNAVAILABLE" } });
  });

  it("revokes a leader with RESIGNED when closed, and grants nothing after", async () => {
    const { driver, service, contender } = setup();
    const session = driver.grant();
    await service.close();
    expect(service.state).toBe("closed");
    expect(contender.revocations).toMatchObject([{ session, reason: "RESIGNED" }]);
    driver.listener?.onGrantLeadership(driver.grant());
    expect(contender.grants).toHaveLength(1);
  });
});
