# Shared by the walkthrough scripts (sourced; BASE must be set): JSON paths, demo tokens, steps.

# json PATH: print the value at a dotted path of the JSON on stdin ("approvals.0.approval_id";
# "*.version" maps over a list). No eval: the path is only ever split and indexed.
json() { python3 -c '
import json, sys
def get(d, keys):
    if not keys: return d
    k, rest = keys[0], keys[1:]
    if k == "*": return [get(x, rest) for x in d]
    return get(d[int(k)] if isinstance(d, list) else d[k], rest)
print(get(json.load(sys.stdin), sys.argv[1].split(".")))' "$1"; }

# token USER: a demo user's API token (password ocx-demo).
token() { curl -sf -XPOST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d "{\"username\":\"$1\",\"password\":\"ocx-demo\"}" | json token; }

step() { printf '\n== %s\n' "$1"; }
