import { asc, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { type NodeActivity, nodes } from "../db/schema";
import type { Logger } from "../log";
import { VERSION } from "../version";

/** How often a node reports; one missing three reports in a row is shown as stale. */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
/** A node not heard from in a week is forgotten. */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

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

/**
 * This node's row in `nodes`: written at start, refreshed every HEARTBEAT_MS with what the node is
 * doing, marked stopped at a clean shutdown. Each beat also forgets long-dead nodes and runs
 * `onBeat` (taking over schedule runs whose node died).
 */
export class NodeHeartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private beating: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    readonly id: string,
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
    };
    await this.db.transaction(async (tx) => {
      await tx.insert(nodes).values(row).onConflictDoUpdate({ target: nodes.id, set: row });
    });
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
  }

  /** One report (the timer's; tests call it to skip the wait). */
  beat(now = Date.now()): Promise<void> {
    this.beating ??= (async () => {
      try {
        await this.db.transaction(async (tx) => {
          const seen = { lastSeenAt: new Date(now), stoppedAt: null, activity: this.activity() };
          await tx.update(nodes).set(seen).where(eq(nodes.id, this.id));
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
        await tx
          .update(nodes)
          .set({ stoppedAt: new Date(), activity: { in_flight_deliveries: 0, running_schedules: [] } })
          .where(eq(nodes.id, this.id));
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
