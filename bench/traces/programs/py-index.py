# Large live set: tokenize a JavaScript source, index every identifier's
# positions, round-trip the index through JSON and keep both copies live.
import collections, json, re, sys

src = open(sys.argv[1], encoding="utf-8").read()
tokens = re.findall(r"[A-Za-z_$][\w$]*|\d+|\S", src)
index = collections.defaultdict(list)
for i, tok in enumerate(tokens):
    index[tok].append(i)
doc = json.dumps(index)
back = json.loads(doc)
print(len(tokens), "tokens,", len(index), "distinct,", len(doc), "bytes of JSON,", sum(map(len, back.values())), "positions")
