// Manifests and schema-evolution ALTERs (see evolve.hpp).
#include "ddl/evolve.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>

namespace snowcdc::ddl {

namespace {

const char *KindName(TargetKind kind) {
    switch (kind) {
        case TargetKind::kBoolean:
            return "boolean";
        case TargetKind::kNumber:
            return "number";
        case TargetKind::kFloat:
            return "float";
        case TargetKind::kVarchar:
            return "varchar";
        case TargetKind::kVariant:
            return "variant";
        case TargetKind::kBinary:
            return "binary";
        case TargetKind::kDate:
            return "date";
        case TargetKind::kTimestampNtz:
            return "timestamp_ntz";
        case TargetKind::kTimestampTz:
            return "timestamp_tz";
        case TargetKind::kTime:
            return "time";
    }
    return "varchar";
}

TargetKind KindFromName(const std::string &name) {
    static const std::map<std::string, TargetKind> kinds = {
        {"boolean", TargetKind::kBoolean},
        {"number", TargetKind::kNumber},
        {"float", TargetKind::kFloat},
        {"varchar", TargetKind::kVarchar},
        {"variant", TargetKind::kVariant},
        {"binary", TargetKind::kBinary},
        {"date", TargetKind::kDate},
        {"timestamp_ntz", TargetKind::kTimestampNtz},
        {"timestamp_tz", TargetKind::kTimestampTz},
        {"time", TargetKind::kTime},
    };
    auto it = kinds.find(name);
    if (it == kinds.end())
        throw std::runtime_error("manifest names an unknown column kind \"" + name + "\"");
    return it->second;
}

const Column *ByAttnum(const Table &table, int attnum) {
    for (const Column &c : table.columns) {
        if (c.attnum == attnum)
            return &c;
    }
    return nullptr;
}

// The tables that have one column per source column.
std::vector<std::string> ColumnTables(const Table &table, const GenerateOptions &options) {
    TableObjects o = ObjectsFor(table, options);
    return {o.current, o.history, o.events};
}

}  // namespace

std::string ManifestJson(const Table &table) {
    nlohmann::json j;
    j["format"] = "snowcdc-ddl-manifest-1";
    j["schema"] = table.schema;
    j["table"] = table.name;
    j["key"] = table.key;
    j["columns"] = nlohmann::json::array();
    for (const Column &c : table.columns) {
        j["columns"].push_back({{"attnum", c.attnum},
                                {"name", c.name},
                                {"pg_type", c.pg_type},
                                {"kind", KindName(c.target.kind)},
                                {"precision", c.target.precision},
                                {"scale", c.target.scale},
                                {"length", c.target.length},
                                {"varlena", c.varlena}});
    }
    return j.dump(2) + "\n";
}

Table TableFromManifest(const std::string &json_text) {
    try {
        nlohmann::json j = nlohmann::json::parse(json_text);
        if (j.at("format") != "snowcdc-ddl-manifest-1")
            throw std::runtime_error("unknown manifest format");
        Table t;
        t.schema = j.at("schema");
        t.name = j.at("table");
        t.key = j.at("key").get<std::vector<std::string>>();
        for (const auto &c : j.at("columns")) {
            Column col;
            col.attnum = c.at("attnum");
            col.name = c.at("name");
            col.pg_type = c.at("pg_type");
            col.target = TargetType{KindFromName(c.at("kind")), c.at("precision"), c.at("scale"),
                                    c.at("length")};
            col.varlena = c.at("varlena");
            for (const std::string &k : t.key)
                col.is_key = col.is_key || k == col.name;
            t.columns.push_back(col);
        }
        return t;
    } catch (const nlohmann::json::exception &e) {
        throw std::runtime_error(std::string("manifest is not valid: ") + e.what() +
                                 "; regenerate without --evolve to write a new one");
    }
}

std::string EvolveSql(const Table &previous, const Table &current, const GenerateOptions &options) {
    const Dialect d = options.dialect;
    const std::string what = current.schema + "." + current.name;
    if (previous.key != current.key) {
        throw std::invalid_argument(
            "the key of " + what + " changed (" + Join(previous.key, ", ") + " -> " +
            Join(current.key, ", ") +
            "); history and current state are keyed on it, so rebuild them: drop the "
            "generated tables, regenerate without --evolve and re-snapshot the table");
    }
    std::string out = "-- snowcdc schema evolution for " + what + " (generated).\n";
    std::string changes;
    const std::vector<std::string> tables = ColumnTables(current, options);
    auto for_each_table = [&](const std::string &action) {
        for (const std::string &t : tables)
            changes += "ALTER TABLE " + t + " " + action + ";\n";
    };
    for (const Column &old : previous.columns) {
        const Column *now = ByAttnum(current, old.attnum);
        if (now == nullptr) {
            changes += "-- Column " + Ident(old.name, d) +
                       " was dropped in Postgres: it stays in the warehouse (rows keep their last "
                       "value, new rows leave it NULL). Drop it yourself when unused.\n";
            continue;
        }
        if (now->name != old.name) {
            for_each_table("RENAME COLUMN " + Ident(old.name, d) + " TO " + Ident(now->name, d));
        }
        if (now->target == old.target)
            continue;
        if (CanWidenInPlace(old.target, now->target)) {
            for_each_table("ALTER COLUMN " + Ident(now->name, d) + " SET DATA TYPE " +
                           RenderType(now->target, d));
        } else {
            changes += "-- " + Ident(now->name, d) + " changed type (" + old.pg_type + " -> " +
                       now->pg_type + "); the old values move to " +
                       Ident(now->name + "_before_type_change", d) + ".\n";
            for_each_table("RENAME COLUMN " + Ident(now->name, d) + " TO " +
                           Ident(now->name + "_before_type_change", d));
            for_each_table("ADD COLUMN " + Ident(now->name, d) + " " + RenderType(now->target, d));
        }
    }
    for (const Column &now : current.columns) {
        if (ByAttnum(previous, now.attnum) == nullptr) {
            changes += "-- New column " + Ident(now.name, d) +
                       ": rows merged before it existed hold NULL (a Postgres DEFAULT is not "
                       "replayed; backfill with UPDATE if needed).\n";
            for_each_table("ADD COLUMN " + Ident(now.name, d) + " " + RenderType(now.target, d));
        }
    }
    if (changes.empty())
        changes = "-- No column changes since the manifest.\n";
    return out + changes + "\n" + MergeProcedureSql(current, options);
}

}  // namespace snowcdc::ddl
