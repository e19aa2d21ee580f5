#!/usr/bin/env bash
# Usage: hack/demo.sh   (or: make demo)
#
# End-to-end demo against the local Azure emulator's `demo` scenario: 12 scale sets in three rings
# (inventory plugin azure_ops.rollout.vmss, groups from the `ring` tag), rolled canary -> ring1 -> ring2.
# api-r1-weu-02 (ring1) faults, so the policy (max_fail_percentage 0) stops the rollout: ring2 never starts.
# web-r1-eus-02 (ring1) already runs the latest extensions: the rollout skips it (Current, no POST).
# ansible-playbook therefore exits 2. Then the read-only gate fleet_status.yml shows each scale set's status and
# extension drift and fails (rc 2) on the Faulted one. This script exits 0 when exactly that expected outcome
# happened (ring1 stopped on api-r1-weu-02, no POST to web-r1-eus-02 nor any ring2 scale set, the gate failed and
# shows ring2's drift), 1 otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
venv="${DEMO_VENV:-.venv}"
[ -x "$venv/bin/ansible-playbook" ] || make --no-print-directory venv
py="$venv/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/rollout-demo.XXXXXX")"
emu_pid=""
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

export ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_LOCALHOST_WARNING=false

echo "== starting the emulator (scenario demo)"
# The env file it writes also puts this checkout on ANSIBLE_COLLECTIONS_PATH (as make emulator does).
EMULATOR_VENV="$venv" hack/emulator.sh demo "$work/env" >"$work/ready.json" 2>"$work/emulator.log" &
emu_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/ready.json" ] && break
  kill -0 "$emu_pid" 2>/dev/null || { cat "$work/emulator.log" >&2; echo "demo: the emulator did not start" >&2; exit 1; }
  sleep 0.2
done
[ -s "$work/ready.json" ] || { echo "demo: the emulator did not get ready" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/env"
echo "   $("$py" -c 'import json,sys; print(json.load(sys.stdin)["base_url"])' <"$work/ready.json")"

report_dir="${DEMO_REPORT_DIR:-$root/build/demo}"
mkdir -p "$report_dir"
echo "== ansible-playbook -i playbooks/inventory/demo playbooks/vmss_extension_rollout.yml"
rc=0
"$venv/bin/ansible-playbook" -i playbooks/inventory/demo playbooks/vmss_extension_rollout.yml \
  -e rollout_report_dir="$report_dir" "$@" || rc=$?

echo "== ansible-playbook exited $rc after $((SECONDS - start)) s"
echo "== ansible-playbook -i playbooks/inventory/demo playbooks/fleet_status.yml (the read-only gate, with drift)"
status_rc=0
"$venv/bin/ansible-playbook" -i playbooks/inventory/demo playbooks/fleet_status.yml \
  -e fleet_report_dir="$report_dir" || status_rc=$?
echo "== fleet_status.yml exited $status_rc"
# Verify the expected outcome from the reports and the emulator's request log.
"$py" - "$report_dir" "$AZURE_RESOURCE_MANAGER_ENDPOINT" "$rc" "$status_rc" <<'PY'
import json, ssl, sys, urllib.request
report_dir, base, rc, status_rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
report_path = report_dir + "/vmss_extension_rollout.json"
rows = {r["name"]: r for r in json.load(open(report_path))["rows"]}
status = {r["name"]: r for r in json.load(open(report_dir + "/fleet_status.json"))["rows"]}
ctx = ssl.create_default_context(cafile=__import__("os").environ["REQUESTS_CA_BUNDLE"])
log = json.load(urllib.request.urlopen(base + "/_emulator/requests", context=ctx))
posts = [e["path"] for e in log if e["method"] == "POST" and e["path"].endswith("/extensionRollingUpgrade")]
ring2 = [n for n, r in rows.items() if r["ring"] == "ring2"]
checks = {
    "ansible-playbook failed (rc 2)": rc == 2,
    "api-r1-weu-02 Faulted": rows.get("api-r1-weu-02", {}).get("status") == "Faulted",
    "canary Completed": all(r["status"] == "Completed" for r in rows.values() if r["ring"] == "canary"),
    "web-r1-eus-02 Current, not started": rows.get("web-r1-eus-02", {}).get("status") == "Current"
                                          and not any("/web-r1-eus-02/" in p for p in posts),
    "ring2 never started": all(rows[n]["status"] == "NotStarted" for n in ring2)
                           and not any("/" + n + "/" in p for n in ring2 for p in posts),
    "status gate failed on the fault": status_rc == 2 and status["api-r1-weu-02"]["status"] == "Faulted",
    "status shows ring2 drift": status["web-r2-eus-01"]["outdated"] is True
                                and status["api-r2-weu-03"]["outdated"] is False,
}
for name, ok in checks.items():
    print("   %-32s %s" % (name, "yes" if ok else "NO"))
print("   %d extension upgrades started (POST), reports: %s, %s" % (
    len(posts), report_path.replace(".json", ".html"), report_dir + "/fleet_status.html"))
sys.exit(0 if all(checks.values()) else 1)
PY
ok=$?
if [ "$ok" -eq 0 ]; then
  echo "== demo OK: the expected outcome (ring1 stopped the rollout, ring2 untouched, the gate fails) in $((SECONDS - start)) s"
else
  echo "== demo: UNEXPECTED outcome" >&2
fi
exit "$ok"
