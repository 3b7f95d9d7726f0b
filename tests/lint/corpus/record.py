"""Record the real converter's verdicts for the generated lint corpus, and show what changed.

    python -m tests.lint.corpus.record                 # convert every case, print changes only
    python -m tests.lint.corpus.record --write         # ... and write verdicts.json
    python -m tests.lint.corpus.record --cases op/sqrt/float layer/GRU/seq_dynamic
    python -m tests.lint.corpus.record --jobs 2

Each case is converted in a worker process (the pip calibrator can crash on control flow,
docs/converter_facts.md §7): float with builtins, then builtins + Select TF ops
(`builtins` / `select_tf_ops` / `unconvertible`), and full integer with a representative dataset
and `TFLITE_BUILTINS_INT8` (`full_int8` / `float_fallback` / `fails`; a worker that dies during the
integer conversion means `fails`). After a TensorFlow or Keras upgrade, run it without `--write`:
it prints every case whose verdict changed, and the cases that appeared or vanished, before
anything is overwritten.
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
VERDICTS = os.path.join(HERE, "verdicts.json")
CASE_TIMEOUT_S = 240


def load():
    """The recorded verdicts: `{"tensorflow": ..., "keras": ..., "cases": {name: {...}}}`."""
    with open(VERDICTS) as f:
        return json.load(f)


# --- worker (runs in a subprocess) -----------------------------------------------------------


def _representative(model, case):
    from tests.lint.corpus.generate import sample

    def gen():
        for seed in range(4):
            yield sample(model, case.int_input, case.string_input, n=1, seed=seed)

    return gen


def convert_case(case):
    """`{"float": ..., "int8": ..., "int8_float_ops": [...]}` from the real converter."""
    from tests.lint import converter

    model = case.build()
    result = {"float": converter.float_verdict(model)[0]}
    print("FLOAT_DONE", flush=True)
    verdict, floats, _ = converter.int8_verdict(model, dataset=_representative(model, case))
    result.update({"int8": verdict, "int8_float_ops": sorted(set(floats))})
    return result


def _worker(names):
    import keras

    from tests.lint.corpus.generate import case

    for name in names:
        print("START", name, flush=True)
        keras.config.set_dtype_policy("float32")
        try:
            result = convert_case(case(name))
        except Exception as exc:  # noqa: BLE001
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print("RESULT", json.dumps({"name": name, **result}), flush=True)


# --- driver ----------------------------------------------------------------------------------


def _run_chunk(names, results, log):
    """Runs `names` in one worker; a crash or hang settles the case in progress and restarts."""
    pending = list(names)
    while pending:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.lint.corpus.record", "--worker", *pending],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        lines = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True
        ).start()
        current, float_done = None, False
        while True:
            try:
                line = lines.get(timeout=CASE_TIMEOUT_S)
            except queue.Empty:
                proc.kill()
                line = None
            if line is None:
                break
            if line.startswith("START "):
                current, float_done = line.split(" ", 1)[1].strip(), False
            elif line.startswith("FLOAT_DONE"):
                float_done = True
            elif line.startswith("RESULT "):
                rec = json.loads(line.split(" ", 1)[1])
                results[rec.pop("name")] = rec
                pending.remove(current)
                log(current, rec)
                current = None
        proc.wait()
        if current is not None:  # the worker died on `current`
            rec = (
                {
                    "float": "unknown",
                    "int8": "fails",
                    "int8_float_ops": [],
                    "note": "worker died during the integer conversion",
                }
                if float_done
                else {"error": "worker died during the float conversion"}
            )
            if float_done:  # the float verdict died with the worker: convert it again alone
                rec["float"] = _float_only(current)
            results[current] = rec
            pending.remove(current)
            log(current, rec)


def _float_only(name):
    code = (
        "import json\nfrom tests.lint.corpus.generate import case\n"
        "from tests.lint import converter\n"
        f"print('F', json.dumps(converter.float_verdict(case({name!r}).build())[0]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("F "):
            return json.loads(line[2:])
    return "unknown"


def record(names, jobs=2, verbose=True):
    """Converts the cases `names` with `jobs` workers; returns `{name: verdicts}`."""
    results, lock = {}, threading.Lock()
    start = time.time()

    def log(name, rec):
        with lock:
            if verbose:
                print(
                    f"[{len(results):4d}/{len(names)} {time.time() - start:6.0f}s] {name}: "
                    f"{rec.get('float')} / {rec.get('int8')} {rec.get('error', '')}",
                    flush=True,
                )

    chunks = [names[i::jobs] for i in range(jobs)]
    threads = [threading.Thread(target=_run_chunk, args=(c, results, log)) for c in chunks if c]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def versions():
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def diff(old, new):
    """Lines describing verdict changes between two `cases` dicts."""
    lines = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None:
            lines.append(f"new      {name}: {b.get('float')} / {b.get('int8')}")
        elif b is None:
            lines.append(f"vanished {name} (was {a.get('float')} / {a.get('int8')})")
        elif (a.get("float"), a.get("int8")) != (b.get("float"), b.get("int8")):
            lines.append(
                f"changed  {name}: {a.get('float')} / {a.get('int8')} -> {b.get('float')} / {b.get('int8')}"
            )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="+", help="only these case names")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write verdicts.json")
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    from tests.lint.corpus.generate import cases

    names = args.cases or [c.name for c in cases()]
    new = record(names, jobs=args.jobs)
    errors = {n: r["error"] for n, r in new.items() if "error" in r}
    old = load() if os.path.exists(VERDICTS) else {"cases": {}}
    merged = dict(old["cases"]) if args.cases else {}
    merged.update({n: r for n, r in new.items() if n not in errors})
    print(
        f"\nrecorded with {versions()} (previous: tensorflow {old.get('tensorflow')}, "
        f"keras {old.get('keras')})"
    )
    changes = diff(
        old["cases"] if not args.cases else {n: old["cases"][n] for n in names if n in old["cases"]}, new
    )
    print(f"{len(changes)} verdict changes" + (":" if changes else ""))
    for line in changes:
        print("  " + line)
    for name, err in sorted(errors.items()):
        print(f"  error    {name}: {err}")
    if args.write:
        with open(VERDICTS, "w") as f:
            json.dump({**versions(), "cases": dict(sorted(merged.items()))}, f, indent=1)
            f.write("\n")
        print(f"wrote {VERDICTS} ({len(merged)} cases)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
