// The snapshot tests' write load on table big (id, v, pad): inserts of new ids, deletes and
// updates of ids in [first_touched, ids], one statement per transaction, so ids below
// first_touched stay unchanged throughout.
#pragma once

#include <random>
#include <string>

#include "load_writer.hpp"

namespace snowcdc::testing {

inline LoadWriter::NextStatement BigTableChanges(int ids, int first_touched) {
    return [ids, first_touched, next_id = 10000000](std::mt19937 &rng) mutable -> std::string {
        std::string id =
            std::to_string(std::uniform_int_distribution<int>(first_touched, ids)(rng));
        switch (rng() % 4) {
            case 0:
                return "INSERT INTO big VALUES (" + std::to_string(next_id++) + ", 1, 'new')";
            case 1:
                return "DELETE FROM big WHERE id = " + id;
            default:
                return "UPDATE big SET v = v + 1, pad = 'upd' WHERE id = " + id;
        }
    };
}

}  // namespace snowcdc::testing
