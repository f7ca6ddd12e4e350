/* The console's copy of the hold queue: a snapshot when the socket opens, then one change at a time.
 *
 * The service sends `queue_entry` (a conversation entered the queue, with its summary) and `queue_exit`
 * (it left), each carrying the conversation record's version. Frames about one conversation may come from
 * several service instances in any order, so a change older than what the console knows is ignored. The
 * order is the service's: by `rank`, then by id (the rank does not change while a conversation waits).
 */

const KEEP_VERSIONS = 5000; // versions remembered for conversations no longer queued

function byRank(a, b) {
  const ra = a.rank ?? 0;
  const rb = b.rank ?? 0;
  if (ra !== rb) return ra - rb;
  if (a.conversation_id === b.conversation_id) return 0;
  return a.conversation_id < b.conversation_id ? -1 : 1;
}

export class QueueModel {
  constructor() {
    this.entries = new Map(); // conversation_id -> summary
    this.versions = new Map(); // conversation_id -> newest version known
  }

  /** Whether a change of `version` to conversation `id` is news (and remember it if so). */
  fresh(id, version) {
    const known = this.versions.get(id);
    if (version != null && known != null && version < known) return false;
    if (version != null) {
      this.versions.delete(id); // re-inserted last: the oldest are pruned first
      this.versions.set(id, version);
    }
    return true;
  }

  /** A whole queue as the service listed it (a hello, or GET /api/queue); where the console already knows a
   * newer version of a listed conversation, it keeps its own. */
  reset(summaries) {
    const known = this.entries;
    this.entries = new Map();
    for (const s of summaries || []) {
      if (!s || !s.conversation_id) continue;
      if (this.fresh(s.conversation_id, s.version)) this.entries.set(s.conversation_id, s);
      else if (known.has(s.conversation_id)) this.entries.set(s.conversation_id, known.get(s.conversation_id));
    }
    this.prune();
  }

  enter(summary) {
    if (!summary || !summary.conversation_id || !this.fresh(summary.conversation_id, summary.version)) return;
    this.entries.set(summary.conversation_id, summary);
  }

  exit(id, version) {
    if (!this.fresh(id, version)) return;
    this.entries.delete(id);
    this.prune();
  }

  clear() {
    this.entries = new Map();
    this.versions = new Map();
  }

  prune() {
    for (const id of this.versions.keys()) {
      if (this.versions.size <= KEEP_VERSIONS) break;
      if (!this.entries.has(id)) this.versions.delete(id);
    }
  }

  get size() { return this.entries.size; }

  /** The queued summaries in service order, each with its 1-based position. */
  ordered() {
    return [...this.entries.values()].sort(byRank).map((s, i) => ({ ...s, position: i + 1 }));
  }
}
