// Package buffer is karana-edge's crash-safe reading buffer: a ring of
// readings in a bbolt file on the SD card, with per-device sequence numbers
// and per-stream cursors. It knows nothing of sensors or MQTT: the sampler
// Appends, each uplink stream Reads from its cursor and Acks what the broker
// took, and `buffer stats` / `buffer export` read the same Ring.
//
// # Commits
//
// Append only queues (copies, 24 bytes a reading) and never waits for the
// disk. A goroutine commits the queue every commit_interval as one bbolt
// transaction: Seqs are assigned then, in append order, so a power cut
// loses at most one window and never leaves a hole. When nothing is new (no
// readings, no cursor moved, no sensor state changed) there is no
// transaction at all: an idle box does not write. Sensor state (SetState:
// a pulse counter's total) rides on the same commits (state.go). A failing
// commit (disk full, I/O error) is logged with the path and retried next
// tick; the queue is bounded (131072 readings, 3 MiB) and when it
// overflows the oldest queued readings are dropped, counted in
// dropped_total, and the next successful commit skips that many seqs, so
// the loss shows as a hole of exactly that size (consumers count holes).
//
// # Sequence numbers
//
// Seqs are strictly increasing, persisted (meta next_seq) and never
// reused, also across a lost database: <path>.seq holds a reservation
// above every seq committed, rewritten atomically (temp, fsync, rename,
// fsync dir) only when a commit reaches it, 65536 seqs at a time, so a few
// times a day. No commit takes a seq at or above the durable reservation:
// when it cannot be rewritten (a full disk on which bbolt still has free
// pages inside its file), only the readings below it commit and the rest
// wait in the queue exactly as on a failing commit (counted, logged,
// LastError, FailingSince, Pending); the first reservation write that
// succeeds lets them commit.
//
// When the database is lost (moved aside as unusable, found empty, or
// missing, while the .seq shows it held readings), numbering resumes
// above the reservation and above the highest seq still readable in the
// damaged file. With neither (a damaged file and no .seq), seqs are
// seeded from wall-clock milliseconds: no box commits 1000 readings a
// second for long, so that outruns any seq used unless the clock is behind
// (logged as a warning). When bbolt opens the previous commit because one
// meta page fails its checksum (an SD card can corrupt a written page on
// power loss; both pages valid is an ordinary power cut, which costs
// nothing), the lost commit's seqs may have been sent: numbering resumes
// at the reservation too.
//
// Each such jump is announced to every stream as dropped, like any hole
// (jump.go): the streams' cursors that can be read from the damaged file
// are kept, and a stream without one starts at the highest seq the lost
// file is known to have reached (from the file, else the reservation
// minus one step, else 1); if such a stream had not sent that far, the
// seqs in between go unannounced: no better mark survives. It is logged at
// ERROR and reported in Stats (RecoveredFrom, RecoveredAt, Recovery,
// SeqJump).
//
// # On disk (database format 2)
//
// Three buckets, and up to three hold buckets (below). "series" maps a 4-byte big-endian id to uvarint(len
// name) | name | unit: the dictionary, so a reading stores a small id.
// "data" maps the first seq of a block (8 bytes big-endian) to a block of
// consecutive seqs. "meta" holds format (1), next_seq, dropped (total),
// jump (a seq jump still to announce, for seconds after a recovery),
// clean (1 after Close, 0 from the first commit), cur/<stream> cursors,
// state/<key> values (SetState, see state.go), clk/<seq> and syn/<boot id>
// clock evidence (clock.go: only written while the clock is unsynced, and
// once per sync), and tail: the first seq (8 bytes) and the newest, still
// growing block.
//
// A block (format byte 1) is:
//
//	format 1 | count uint32 BE | entries | CRC-32C of all before, LE
//	entry: uvarint series id | zigzag varint ts delta in ns from the
//	       previous reading of the block (from 0 for the first) |
//	       header h | flags byte if h&0x80 | value bytes
//	h = f<<7 | lz<<3 | tz: f, the flags differ from the previous reading
//	(which start at 0); the value is x = float bits XOR the previous value
//	of the same series in the block, lz/tz its leading/trailing zero bytes,
//	and its 8-lz-tz middle bytes follow (x = 0: lz 8, no bytes).
//
// The hold buckets "h0", "h1" and "h2" each hold at most one block, keyed
// like data: a full tail parked inline in the root page (hold.go). Seqs
// run data < holds < tail. Format 1 files (before holds) are read as they
// are and marked 2 by the commit that parks their first hold.
//
// A thinned block (format byte 2, thin.go) holds aggregates that replaced
// raw readings: the same layout with a uint32 BE span (the seqs the block
// covers) after the count, and each entry starting with the uvarint number
// of seqs skipped before it; the key is still the first seq covered.
//
// A reading costs 7-12 bytes: a repeated value 1 byte, a counter 2, a
// noisy measurement about 7, plus 1 for the series and 1-5 for the time.
// The zero time.Time is stored as MinInt64. A new format byte, or a new
// meta format, is needed for any change; this build treats an unknown one
// as a file it cannot use.
//
// # Writing few pages
//
// bbolt's floor for a commit is one data page and the meta page (8 KiB at
// 4 KiB pages, two fdatasyncs). An ordinary commit reaches it: the small
// batch joins the tail, and the meta bucket that holds the tail and the
// cursors stays inline in the root page (under a quarter page), so the
// commit rewrites the root page and the meta page and nothing else. When
// the tail is full (about 800 bytes) it is parked in a hold bucket, itself
// inline in the root page, at no extra cost; only when no hold fits in the
// root page are the holds and the tail sealed into the data bucket: that
// commit also rewrites the rightmost leaf and its branch path (2-4 pages).
// At the reference site (40 readings per 10 s commit) that is one commit
// in 7-8: BenchmarkRefSiteWrites counts 2.42 pages a commit, 1.21x the
// floor (without holds 3.29, 1.65x: every other commit sealed), and
// TestOrdinaryCommitWritesTwoPages keeps it so. Blocks written to "data"
// are capped at a quarter page so that the rightmost leaf is
// always one page: bbolt rewrites a whole leaf node for any change and
// never splits a node of four keys or fewer, so a 64 KiB block next to the
// append point would be rewritten with every new one. No freelist page
// is written (NoFreelistSync: bbolt rebuilds it at open).
//
// BenchmarkDiskWrites measured, on the reference site's 4 readings/s with
// a live stream acknowledging once a minute: 8.0 KiB per commit at 200 ms,
// 8.2 KiB at 1 s, 9.1 KiB at 5 s (at most 1.15x the floor; with a 5 MB
// backlog 8.1, 8.5 and 10.7 KiB), that is 2.85 GB, 0.72 GB and 0.16 GB a
// day: commit_interval is the wear knob.
//
// Kernels with large page-cache folios on ext4 (Linux 6.16 and later)
// account a 4 KiB write into a cached large folio as the whole folio (the
// same commit measured 20-32 KiB). Large folios come from large writes:
// bbolt's initial 16 KiB meta write, a compaction's copy. Open and
// compaction drop the file from the page cache (POSIX_FADV_DONTNEED) for
// that reason; pages read back through bbolt's MADV_RANDOM map stay single.
//
// # Capacity
//
// max_bytes bounds the data and the file. The data (key and value bytes of
// blocks) is kept under half of what max_bytes leaves after bbolt's growth
// step (AllocSize, set to max_bytes/256 between 64 KiB and 1 MiB instead of
// bbolt's 16 MiB) and a few pages; beyond it the oldest blocks are deleted
// whatever the cursors say, and the readings in them that the slowest
// active stream had not acknowledged count as dropped (all of them when no
// stream is active). Streams see the loss as first_seq jumping past their
// cursor. Before that, past thin_at of the budget, the oldest undelivered
// readings are thinned into per-minute aggregates (thin.go), so a long
// outage loses resolution before it loses readings. Blocks every active
// stream (SetStreams) has acknowledged are
// deleted once a page's worth of them has accumulated; inactive streams'
// cursors are kept in the file but hold nothing back.
//
// Delivered readings are kept for a horizon first (keep.go): the larger
// of keep ([buffer] keep) and what the agent asks for with SetKeep (the
// rules' longest window, which they rebuild from the ring at start; 24 h
// for the page's plots). A delivered data block goes once its newest
// reading (decoded from the block, remembered in memory by seq: nothing
// more is written) is older than now minus the horizon, a page's worth at
// a time as above. Capacity wins, and delivered data never costs
// undelivered data: past thin_at the kept delivered blocks are deleted,
// oldest first, before anything is thinned, and past the budget the oldest
// blocks, which are the delivered ones, go before any undelivered reading;
// neither counts as dropped. Read, Export and Stats see the kept readings
// like any (Readings, DataBytes and Oldest include them), and the streams
// never do: they read from their cursors. With keep 0 and nothing asked
// (no rules window, no page), pruning is exactly as without it.
// BenchmarkRefSiteWritesKeep24h: 24 h kept at the reference site costs
// 2.85 pages a commit over a simulated second day (2.42 without), a
// 4.8 MiB file and 3.5 MiB of data.
//
// bbolt never shrinks its file. After a commit, at the cost of a stat, the
// file is compacted (bbolt.Compact into <path>.compact, fsync, rename over
// the database, all under the ring's lock) when it is over max_bytes, or,
// at most once a minute, when it is over 4x the live data and over 1 MiB:
// a drained backlog. Kept delivered readings are live data: they are in
// the data the 4x is measured against, so keeping a day does not make a
// file holding it look mostly free. The copy is opened under the temporary name and keeps
// its lock through the rename, so no other process slips in; a crash
// before the rename leaves the old file whole and Open deletes the copy.
// Compaction needs disk room for the live data a second time.
//
// # Opening and recovery
//
// bbolt's writer takes an exclusive flock: while the daemon runs,
// OpenReadOnly fails with ErrLocked after its timeout, and the daemon
// serves stats and export itself (Stats and Export are safe at any time;
// they use short read transactions). Open waits 10 s for the lock.
//
// Open never refuses to start because of the file: anything unusable (not
// a bbolt file, both meta pages bad, a truncated file, a damaged page, a
// foreign or newer-format database, a bad first/last block or tail, an
// empty file while the .seq shows readings existed) is renamed to
// <path>.corrupt-<UTC time>, logged at ERROR with both paths, reported in
// Stats.RecoveredFrom, and replaced by an empty ring numbered past it
// (Sequence numbers). A new file is built under <path>.init and renamed
// into place, and a damaged one is moved aside only once its replacement
// is built and the numbering past it is in the .seq reservation: a full
// disk or a crash leaves the old state or the new, never a partial file
// that the next start would take for a damaged one. A file that cannot be
// opened for writing, created or replaced (a read-only card, a full disk)
// does not stop the box either (below). Only a missing data directory, or
// a lock held elsewhere, is an error.
//
// The check costs one walk of the file, done anyway: with NoFreelistSync,
// bbolt's writable open walks every page on a goroutine of its own, where a
// damaged page panics the process unrecoverably, and a page beyond the end
// of a truncated file faults. So Open first opens the file read-only and
// walks every page itself (cursor over every bucket, last byte of every
// value) with faults turned into panics and panics recovered, checks the
// meta and series buckets and every block header, decodes the first and
// last blocks and the tail, compares bbolt's high-water mark with the file
// size, and, when the previous shutdown was not clean, runs tx.Check.
// BenchmarkOpen: 34 MiB file, 4.6 million readings: 0.30 s from a cold
// cache on a VM's disk, 0.34 s with the check (which alone takes 13 ms);
// an SD card reads 20-40 MB/s, so expect 1-2 s on a Pi.
//
// # Clock evidence
//
// A box without an RTC samples with a stale clock until NTP syncs. Each
// unsynced reading's boot and wall-minus-boot-time offset are kept, once
// per run of readings that share them (meta clk/<seq>), and when the agent
// reports the sync (MarkSynced, meta syn/<boot>) Read re-stamps that boot's
// unsynced readings from their boot time (reading.ClockCorrected). A boot
// that never synced keeps its raw times and ClockUnsynced. Read also flags
// reading.TimeImplausible on times the Clock's Plausible rejects (before
// the build date; over an hour ahead of a synced clock). See clock.go. A
// synced box writes no evidence: BenchmarkDiskWrites is unchanged; its
// live-unsynced case (every reading flagged, evidence kept) measured within
// 1% of live (8.4 KiB per commit at 1 s).
//
// # Disk full, read-only card
//
// A failing commit changes nothing on disk (bbolt's transaction is all or
// nothing) and keeps its readings queued; the first failure is logged at
// ERROR and then once a minute, Stats reports LastError, FailingSince and
// Pending, and the first commit that succeeds writes the whole queue.
// TestDiskFull proves it on a real, full 2 MiB tmpfs: everything committed
// before is intact, the file reopens without recovery, and the seq hole is
// exactly the queue's overflow; TestDiskFullKeepsSeqsBelowReservation that
// bbolt committing into its free pages never outruns the reservation.
//
// Nor does a buffer that cannot be opened for writing at Open
// (readonly.go): a data directory or file that refuses writes (EROFS,
// EACCES: a worn card gone read-only), a disk too full (ENOSPC, EDQUOT) to
// create the file at a first start or to replace a damaged one, or any
// other failure but a missing data directory or a lock held elsewhere. The
// file, if there is a usable one, is opened read-only and its readings
// served (cursors move in memory only); new readings wait in the queue
// without a seq (so none is ever published with a seq a later boot could
// hand out again); Stats reports LastError, FailingSince and Pending, and
// DiskReadOnly when writes are refused; an ERROR is logged at open, when
// the cause changes, and once a minute. Every 10 s the directory is
// checked (access(2): a remount passes, and so does a full disk) and the
// file opened for writing as Open would: created, recovered and numbered by
// the same rules (a missing file resumes at the .seq reservation, if any),
// and once that works the queue (its overflow a hole, as above) and the
// cursors are committed. A stop before that loses the queue.
// TestFullDiskAtFirstStart proves it on a real, full tmpfs with no file
// yet: no partial file is left by the tries, and the queue commits from
// seq 1 once there is room.
//
// A block whose checksum fails later (bit rot bbolt cannot see) is skipped
// by Read with an ERROR log, once: the seq jump tells the streams, and one
// bad page does not stall them.
//
// # Inside the Ring
//
// The Ring is the storage: the bbolt handle (dbMu), the state as last
// committed (diskState, commitMu) and what Append, Ack and the readers
// share with the committer (mu). The rest are small types with locks of
// their own that call nothing of the Ring, so mu may be held while one is
// taken, never the reverse: the seq reservation (seqReservation,
// seqfile.go), clock evidence and re-stamping (clockBook, clock.go),
// sensor state (sensorState, state.go), the subscribers (subscribe.go),
// the commit counts and failures (commitHealth, health.go) and the series
// dictionary (series.go).
package buffer
