/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Map patterns every tool uses: the counter of what could not be delivered or counted, the
 * lookup-or-insert of an aggregation entry, per-CPU scratch space for records too large for
 * the BPF stack. Included by common.h.
 */
#ifndef EBPF_RUST_MAPS_H
#define EBPF_RUST_MAPS_H

/*
 * `lost_events`: one u64 per CPU, summed by the agent, counting events that did not fit (a full
 * ring buffer) or could not be counted (a full map). The agent reports them: nothing is lost
 * silently.
 */
#define DEFINE_LOST_COUNTER() DEFINE_SCRATCH(__u64, lost_events)

static __always_inline void count_lost_event(void *lost_map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(lost_map, &zero);

	if (n)
		*n += 1;
}

/*
 * The entry of `key`, inserted as `init` if missing. Inserting fails when another CPU inserted
 * the key first (then the lookup finds it) or when the map is full: then NULL, and the miss is
 * counted in `lost_events`.
 */
#define map_lookup_or_init(map, key, init)                                    \
	({                                                                    \
		void *__v = bpf_map_lookup_elem((map), (key));                \
		if (!__v) {                                                   \
			bpf_map_update_elem((map), (key), (init), BPF_NOEXIST); \
			__v = bpf_map_lookup_elem((map), (key));              \
			if (!__v)                                             \
				count_lost_event(&lost_events);               \
		}                                                             \
		__v;                                                          \
	})

/*
 * `name`: a hash map of counters that the agent drains while the programs run (every interval
 * of a top-like tool). A program adds to an entry through the pointer a lookup returned; were
 * the agent to read and delete that entry in between, the addition would land in neither this
 * report nor the next. So there are two maps, `name` and `name_spare`, and the programs reach
 * the one in use through `name_live` (a map of maps, slot 0): the agent puts the other map in
 * the slot, and the kernel returns from that update only once every program that could still
 * hold the old one has ended (an RCU grace period); then it drains the old map, which nothing
 * writes any more, and keeps it as the spare. The agent's half: agents/core/src/maps.rs.
 */
#define DEFINE_DRAINED_HASH(name, key_type, value_type, entries) \
	struct name##_def {                                      \
		__uint(type, BPF_MAP_TYPE_HASH);                 \
		__uint(max_entries, entries);                    \
		__type(key, key_type);                           \
		__type(value, value_type);                       \
	} name SEC(".maps"), name##_spare SEC(".maps");          \
	struct {                                                 \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);        \
		__uint(max_entries, 1);                          \
		__type(key, __u32);                              \
		__array(values, struct name##_def);              \
	} name##_live SEC(".maps") = { .values = { &name } }

/* The map of `name` (DEFINE_DRAINED_HASH) that programs write now (NULL only while unset). */
#define drained_map(name)                                   \
	({                                                  \
		__u32 __slot = 0;                           \
		bpf_map_lookup_elem(&name##_live, &__slot); \
	})

/* map_lookup_or_init() in the map of `name` that programs write now. */
#define drained_lookup_or_init(name, key, init)                           \
	({                                                                \
		void *__m = drained_map(name);                            \
		__m ? map_lookup_or_init(__m, (key), (init)) : (void *)0; \
	})

#define BPF_F_NO_COMMON_LRU (1U << 1)

/*
 * `name`: what a syscall (or a function) in flight keeps from its entry for its exit, by
 * thread id. LRU, as a safety net for a tool that runs for weeks: should a call ever miss its
 * exit (a thread killed inside it), its entry is evicted in time instead of holding a slot for
 * good. One LRU list per CPU: inserts take no lock that the other CPUs wait on.
 */
#define DEFINE_INFLIGHT(name, value_type)                   \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);        \
		__uint(max_entries, 10240);                 \
		__uint(map_flags, BPF_F_NO_COMMON_LRU);     \
		__type(key, __u32);                         \
		__type(value, value_type);                  \
	} name SEC(".maps")

/*
 * Takes thread `*tid`'s entry of in-flight map `name` into `*out`: a copy, and the entry
 * deleted at once, so that no slot is held past the exit. True if there was one.
 */
#define take_inflight(name, tid, out)                                   \
	({                                                              \
		typeof(out) __entry = bpf_map_lookup_elem(&(name), (tid)); \
		if (__entry) {                                          \
			*(out) = *__entry;                              \
			bpf_map_delete_elem(&(name), (tid));            \
		}                                                       \
		__entry != NULL;                                        \
	})

/* One `type` per CPU, for records built before they are sent: `scratch_of(name)`. */
#define DEFINE_SCRATCH(value_type, name)                 \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
		__uint(max_entries, 1);                  \
		__type(key, __u32);                      \
		__type(value, value_type);               \
	} name SEC(".maps")

#define scratch_of(name)                               \
	({                                             \
		__u32 __zero = 0;                      \
		bpf_map_lookup_elem(&(name), &__zero); \
	})

#endif
