// The Snowpipe sink's snapshot store (snapshot.hpp): every (table, range) stream of the
// initial snapshot is a channel of its own, <prefix>_snap_<relid>_<part>, whose committed
// offset token is the truth of what Snowflake holds of that range.
//
// Offset tokens: the record's snapshot seq (snowcdc.snapshot_seq(ctid), up to 2^32 blocks *
// 291, so wider than StreamPosition::seq) goes into the lsn half of the sink's fixed-width
// token: FormatOffsetToken({seq, 0}) = "<16 hex digits of seq>/00000000". String order is seq
// order, as the channel code needs, and ParseOffsetToken reads it back without a second format.
//
// Where the plan lives: a local file <state_dir>/<prefix>.snapshot-plan.json. The channels'
// tokens say how far each range got, but the plan (tables, ranges, consistent point, snapshot
// time) has to be known before any channel is opened, and Snowpipe Streaming keeps nothing
// but one offset token per channel (no listing by name, no metadata); the shipper has no SQL
// connection to Snowflake either. The file is small, written at planning and when a range
// finishes, and replaced atomically; the range "done" flags in it only save re-opening
// channels, a crash between a commit and the flag is resolved by the channel's token.
// systemd units map state_dir to StateDirectory=.
#pragma once

#include <memory>
#include <string>

#include "snapshot.hpp"
#include "snowpipe/dead_letter.hpp"
#include "snowpipe/snowpipe_channel.hpp"
#include "snowpipe/snowpipe_client.hpp"
#include "snowpipe/token_source.hpp"

namespace snowcdc::snowpipe {

struct SnowpipeSnapshotOptions {
    PipeAddress pipe;
    ChannelOptions channel;
    std::string channel_prefix;
    std::string state_dir;
    int open_attempts = 8;
};

// The channel of one snapshot stream: <prefix>_<stream>, stream = snap_<relid>_<part>.
std::string SnapshotChannelName(const std::string &prefix, const std::string &stream);

// `tokens` and `dead_letters` must outlive the store (the sink owns all three).
std::unique_ptr<SnapshotStore> MakeSnowpipeSnapshotStore(SnowpipeSnapshotOptions options,
                                                         TokenSource &tokens,
                                                         DeadLetterWriter &dead_letters);

}  // namespace snowcdc::snowpipe
