"""Markdown results: a machine header, a summary and one table per workload, written to
bench/results/ and, for full runs, copied between markers into bench/README.md."""

import datetime
import os
import platform
import re

from . import cluster as cluster_mod
from . import decode
from . import stats


def machine_lines(started, command, load_before, load_after, method):
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    postgres = cluster_mod.run(
        [os.path.join(cluster_mod.pg_bindir(), "postgres"), "--version"]).stdout.strip()
    return [
        "- Date: %s UTC" % started.strftime("%Y-%m-%d %H:%M"),
        "- snowcdc: %s" % _plugin_version(),
        "- Command: `%s`" % command,
        "- Machine: %d CPUs (`nproc`), %s, %.1f GiB RAM, Linux %s" % (
            os.cpu_count(), cpu_model, mem_kib / 1024 / 1024, platform.release()),
        "- PostgreSQL: %s" % postgres,
        "- Load average (1 min) before / after: %.2f / %.2f (the machine is shared)"
        % (load_before, load_after),
        "- Method: %s" % method,
    ]


def _plugin_version():
    """Which snowcdc was measured: the installed library's time and the last extension commit
    (the library may hold changes not committed yet)."""
    libdir = cluster_mod.run(["pg_config", "--pkglibdir"]).stdout.strip()
    library = os.path.join(libdir, "snowcdc.so")
    if not os.path.exists(library):
        return "not installed"
    built = datetime.datetime.fromtimestamp(os.path.getmtime(library), datetime.timezone.utc)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commit = cluster_mod.run(["git", "-C", repo, "log", "-1", "--format=%h %s", "--",
                              "extension"], check=False).stdout.strip() or "unknown"
    return "%s installed %s UTC; last commit to extension/: %s" % (
        library, built.strftime("%Y-%m-%d %H:%M"), commit)


def _fmt(value, digits=3):
    if value is None:
        return "n/a"
    return "%.*f" % (digits, value)


NOISE_MARK = "†"
NOISE_NOTE = (
    NOISE_MARK + " pgoutput's margin over the floor is smaller than the round-to-round spread "
    "(max - min) of the floor or of pgoutput: the ratio is mostly noise.")


def _ratio(result, path, name, measure):
    medians = {}
    for contender in (name, "floor", "pgoutput"):
        if contender not in result.by_contender:
            return None
        medians[contender] = decode.summarize(result, path, contender, measure)
    # CPU time comes in clock ticks: a one-tick margin is no measurement.
    resolution = 1.0 / cluster_mod.CLOCK_TICKS if measure == "server_cpu" else 0.0
    return stats.overhead_ratio(medians[name], medians["floor"], medians["pgoutput"],
                                resolution * 1.5)


def _noisy(result, path, measure):
    """True when the ratio's denominator is within the spread of its own inputs."""
    spreads, medians = [], {}
    for name in ("floor", "pgoutput"):
        samples = [getattr(s, measure) for s in result.by_contender[name].samples[path]]
        spreads.append(max(samples) - min(samples))
        medians[name] = stats.median(samples)
    return medians["pgoutput"] - medians["floor"] <= max(spreads)


def _ratio_cell(result, path, name):
    cells = []
    for measure in ("wall", "server_cpu"):
        text = _fmt(_ratio(result, path, name, measure), 2)
        if text != "n/a" and _noisy(result, path, measure):
            text += NOISE_MARK
        cells.append(text)
    return "%s (%s)" % tuple(cells)


def decode_markdown(results, contenders, header_lines):
    lines = ["## Decoding", ""] + header_lines + [""]
    lines += [
        "Overhead over the floor as a ratio to pgoutput's, "
        "(t_plugin - t_floor) / (t_pgoutput - t_floor), from median wall seconds "
        "(CPU seconds of the server in parentheses). Below 1 means less work than pgoutput.",
        "",
    ]
    names = [c.name for c in contenders if c.unavailable is None and c.name != "floor"]
    lines.append("| contender | " + " | ".join(
        "%s peek | %s walsender" % (r.workload.name, r.workload.name) for r in results) + " |")
    lines.append("|---" * (1 + 2 * len(results)) + "|")
    for name in names:
        cells = [_ratio_cell(result, path, name) for result in results for path in decode.PATHS]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines += ["", NOISE_NOTE, ""]
    lines += _target_lines([
        ("%s %s" % (result.workload.name, path), _ratio(result, path, "snowcdc", "wall"),
         _noisy(result, path, "wall"))
        for result in results for path in decode.PATHS if "snowcdc" in result.by_contender])
    for contender in contenders:
        if contender.unavailable is not None:
            lines.append("- %s: not measured, %s" % (contender.name, contender.unavailable))
    lines += ["", "Contenders: " + "; ".join(
        "%s (%s)" % (c.name, c.note) for c in contenders if c.unavailable is None) + ".", ""]
    for result in results:
        lines += _workload_table(result, contenders)
    return "\n".join(lines) + "\n"


def _target_lines(cells):
    """The target, reported and never asserted: snowcdc's overhead at most pgoutput's."""
    if not cells:
        return []
    met = [name for name, ratio, _ in cells if ratio is not None and ratio <= 1.0]
    missed = ["%s (%.2f%s)" % (name, ratio, NOISE_MARK if noisy else "")
              for name, ratio, noisy in cells if ratio is not None and ratio > 1.0]
    unmeasured = [name for name, ratio, _ in cells if ratio is None]
    text = ("Target, snowcdc's overhead at most pgoutput's (ratio <= 1): met in %d of %d (%s); "
            "missed in %s" % (len(met), len(cells), ", ".join(met) or "none",
                              ", ".join(missed) or "none"))
    if unmeasured:
        text += "; not measurable (pgoutput not above the floor) in " + ", ".join(unmeasured)
    return [text + ".", ""]


def _workload_table(result, contenders):
    changes = result.changes
    lines = [
        "### %s" % result.workload.name,
        "",
        "%s. %d changes, %.1f MB of WAL, written in %.2f s." % (
            result.workload.description, changes, result.wal_bytes / 1e6, result.load_seconds),
        "",
        "| contender | bytes/change | peek s | peek CPU s | peek changes/s | peek overhead "
        "| walsender s | walsender CPU s | walsender changes/s | walsender overhead |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for contender in contenders:
        if contender.name not in result.by_contender:
            continue
        outcome = result.by_contender[contender.name]
        cells = [contender.name, _fmt(outcome.bytes / changes, 1)]
        for path in decode.PATHS:
            wall = decode.summarize(result, path, contender.name, "wall")
            cpu = decode.summarize(result, path, contender.name, "server_cpu")
            cells += [_fmt(wall), _fmt(cpu), "%.0f" % (changes / wall) if wall > 0 else "n/a",
                      _ratio_cell(result, path, contender.name)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def instructions_markdown(results, contenders, header_lines, sizes_name):
    lines = ["## Decoding, counted in instructions", ""] + header_lines + [""]
    lines += [
        "Instructions executed inside pg_logical_slot_peek[_binary]_changes by a single-user "
        "backend under callgrind, on WAL written by the workloads at %s scale (instruction "
        "counts per change hardly depend on size; callgrind runs some 50 times slower). "
        "Each cell: overhead over the floor as a ratio to pgoutput's, "
        "(I_plugin - I_floor) / (I_pgoutput - I_floor), then in parentheses the plugin's "
        "instructions per change above the floor. Unlike times, these repeat to within a "
        "fraction of a percent from run to run." % sizes_name,
        "",
        "| contender | " + " | ".join(r.workload.name for r in results) + " |",
        "|---" * (1 + len(results)) + "|",
    ]
    for contender in contenders:
        if contender.unavailable is not None or contender.name == "floor":
            continue
        cells = []
        for result in results:
            counts = result.instructions
            ratio = stats.overhead_ratio(counts[contender.name], counts["floor"],
                                         counts["pgoutput"])
            per_change = (counts[contender.name] - counts["floor"]) / result.changes
            cells.append("%s (%.0f)" % (_fmt(ratio, 2), per_change))
        lines.append("| %s | %s |" % (contender.name, " | ".join(cells)))
    lines.append("| floor, instructions per change | %s |" % " | ".join(
        "%.0f" % (r.instructions["floor"] / r.changes) for r in results))
    lines.append("| changes | %s |" % " | ".join("%d" % r.changes for r in results))
    lines.append("")
    if all("snowcdc" in r.instructions for r in results):
        lines += _target_lines([
            (r.workload.name, stats.overhead_ratio(r.instructions["snowcdc"],
                                                   r.instructions["floor"],
                                                   r.instructions["pgoutput"]), False)
            for r in results])
    return "\n".join(lines) + "\n"


def decode_raw_samples(results):
    """Every timed sample, for the results file: medians hide how noisy a run was."""
    lines = ["### Raw samples (wall s / server CPU s, in round order)", ""]
    for result in results:
        for path in decode.PATHS:
            lines.append("- %s, %s:" % (result.workload.name, path))
            for name, outcome in result.by_contender.items():
                lines.append("  %s: %s" % (name, ", ".join(
                    "%.3f/%.2f" % (s.wall, s.server_cpu) for s in outcome.samples[path])))
    return "\n".join(lines) + "\n"


def write_results(results_dir, stamp, text):
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, stamp + ".md")
    with open(path, "w") as results_file:
        results_file.write(text)
    return path


def update_readme(readme_path, suite, text):
    """Replaces what lies between <!-- bench:SUITE:begin --> and <!-- bench:SUITE:end -->."""
    begin, end = "<!-- bench:%s:begin -->" % suite, "<!-- bench:%s:end -->" % suite
    with open(readme_path) as readme:
        content = readme.read()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(content):
        raise RuntimeError("%s has no %s ... %s markers; add them where the table belongs"
                           % (readme_path, begin, end))
    content = pattern.sub(lambda _: begin + "\n" + text + end, content)
    with open(readme_path, "w") as readme:
        readme.write(content)


def utc_from_mtime(path):
    """A file's modification time as 'YYYY-MM-DD HH:MM' in UTC."""
    return datetime.datetime.fromtimestamp(
        os.path.getmtime(path), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)
