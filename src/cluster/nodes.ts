import { and, asc, eq, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { type NodeActivity, nodes } from "../db/schema";
import type { Logger } from "../log";
import { StartupError } from "../startup-error";
import { VERSION } from "../version";

/** How often a node reports; one missing three reports in a row is shown as stale. */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
/** A node not heard from in a week is forgotten. */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;
/** How late a heartbeat may be (a loaded machine) before its process is taken for dead. */
const BEAT_GRACE_MS = 5_000;
const WATCH_EVERY_MS = 250;

type NodeState = "live" | "stale" | "stopped";
export type NodeInfo = {
  id: string;
  address: string;
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  state: NodeState;
  activity: NodeActivity;
};

const idle: NodeActivity = { in_flight_deliveries: 0, running_schedules: [] };

/**
 * Takes a node id for this process (`instance`, random per start) before anything acts under it: the
 * delivery engine takes back every lease held under its id, so two live processes under one id would
 * take each other's jobs. A row of another process seen within the stale time may be a live node or
 * one that was killed: the start waits for that row's next heartbeat. A heartbeat means a live node
 * under the same name, and the start is refused naming --node-id; none within the interval (and a
 * grace for a loaded machine) means it died, and the id is taken over.
 */
export async function claimNodeId(db: Db, id: string, instance: string, log: Logger): Promise<void> {
  for (;;) {
    const now = Date.now();
    const row = {
      id,
      address: "",
      version: VERSION,
      startedAt: new Date(now),
      lastSeenAt: new Date(now),
      stoppedAt: null,
      activity: idle,
      instance,
    };
    const free = or(
      isNull(nodes.instance),
      eq(nodes.instance, instance),
      isNotNull(nodes.stoppedAt),
      lt(nodes.lastSeenAt, new Date(now - STALE_AFTER_MS)),
    );
    const taken = await db.transaction(
      async (tx) =>
        await tx
          .insert(nodes)
          .values(row)
          .onConflictDoUpdate({ target: nodes.id, set: row, setWhere: free })
          .returning({ id: nodes.id }),
    );
    if (taken.length) return;
    const [seen] = await db.select().from(nodes).where(eq(nodes.id, id));
    if (!seen) continue;
    const deadline = seen.lastSeenAt.getTime() + HEARTBEAT_MS + BEAT_GRACE_MS;
    log.warn("another process was running under this node id: waiting for its heartbeat", {
      node: id,
      address: seen.address,
      last_seen_ms_ago: now - seen.lastSeenAt.getTime(),
    });
    let alive = false;
    while (!alive && Date.now() < deadline) {
      await Bun.sleep(WATCH_EVERY_MS);
      const [current] = await db.select().from(nodes).where(eq(nodes.id, id));
      alive = !!current && current.stoppedAt === null && current.lastSeenAt.getTime() > seen.lastSeenAt.getTime();
    }
    if (alive)
      throw new StartupError(
        `node id "${id}" is in use by another live node (${seen.address || "starting"}): ` +
          "give every node its own --node-id (SWITCHBOARD_NODE_ID)",
      );
    // No heartbeat: that process is gone. Taken over unless its row changed meanwhile (then look again).
    const tookOver = await db.transaction(
      async (tx) =>
        await tx
          .update(nodes)
          .set({ ...row, lastSeenAt: new Date() })
          .where(and(eq(nodes.id, id), eq(nodes.lastSeenAt, seen.lastSeenAt), eq(nodes.instance, seen.instance!)))
          .returning({ id: nodes.id }),
    );
    if (tookOver.length) {
      log.warn("node id taken over from a process that stopped beating", { node: id });
      return;
    }
  }
}

/**
 * This node's row in `nodes`: written at start, refreshed every HEARTBEAT_MS with what the node is
 * doing, marked stopped at a clean shutdown. Each beat also forgets long-dead nodes and runs
 * `onBeat` (taking over schedule runs whose node died). Writes touch the row only while it is this
 * process's (`instance`, see claimNodeId).
 */
export class NodeHeartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private beating: Promise<void> | null = null;
  private lostId = false;

  constructor(
    private readonly db: Db,
    readonly id: string,
    readonly instance: string,
    private readonly address: string,
    private readonly activity: () => NodeActivity,
    private readonly log: Logger,
    private readonly onBeat: () => Promise<void> = async () => {},
  ) {}

  async start(now = Date.now()): Promise<void> {
    const row = {
      id: this.id,
      address: this.address,
      version: VERSION,
      startedAt: new Date(now),
      lastSeenAt: new Date(now),
      stoppedAt: null,
      activity: this.activity(),
      instance: this.instance,
    };
    await this.db.transaction(async (tx) => {
      await tx.insert(nodes).values(row).onConflictDoUpdate({ target: nodes.id, set: row });
    });
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
  }

  private get mine() {
    return and(eq(nodes.id, this.id), or(eq(nodes.instance, this.instance), isNull(nodes.instance)));
  }

  /** One report (the timer's; tests call it to skip the wait). */
  beat(now = Date.now()): Promise<void> {
    this.beating ??= (async () => {
      try {
        await this.db.transaction(async (tx) => {
          const seen = { lastSeenAt: new Date(now), stoppedAt: null, activity: this.activity() };
          const beaten = await tx.update(nodes).set(seen).where(this.mine).returning({ id: nodes.id });
          if (!beaten.length && !this.lostId) {
            this.lostId = true;
            this.log.error("another process took over this node id: give every node its own --node-id", {
              node: this.id,
            });
          }
          await tx.delete(nodes).where(lt(nodes.lastSeenAt, new Date(now - FORGET_AFTER_MS)));
        });
        await this.onBeat();
      } catch (err) {
        this.log.error("node heartbeat failed", { error: String(err) });
      } finally {
        this.beating = null;
      }
    })();
    return this.beating;
  }

  /** Marks this node stopped; a database that fails now only leaves it to turn stale. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    try {
      await this.db.transaction(async (tx) => {
        await tx.update(nodes).set({ stoppedAt: new Date(), activity: idle }).where(this.mine);
      });
    } catch (err) {
      this.log.error("marking the node stopped failed", { error: String(err) });
    }
  }
}

/** Every node the database knows, by id, with its state at `now`. */
export async function listNodes(db: Db, now = Date.now()): Promise<NodeInfo[]> {
  const rows = await db.select().from(nodes).orderBy(asc(nodes.id));
  return rows.map((r) => ({
    id: r.id,
    address: r.address,
    version: r.version,
    startedAt: r.startedAt,
    lastSeenAt: r.lastSeenAt,
    state: r.stoppedAt ? "stopped" : now - r.lastSeenAt.getTime() > STALE_AFTER_MS ? "stale" : "live",
    activity: r.activity,
  }));
}
