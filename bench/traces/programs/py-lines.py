# Small live set: stream a JavaScript source line by line, normalize each
# line with regexes, split it into words and count them.
import collections, re, sys

strip_strings = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
word = re.compile(r"[A-Za-z_$][\w$]*")
counts = collections.Counter()
shapes = collections.Counter()
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = strip_strings.sub('""', line.strip())
        words = word.findall(line)
        counts.update(w.lower() for w in words)
        shapes[" ".join(w[:1] for w in words[:4])] += 1
for w, n in counts.most_common(10):
    print(n, w)
print(len(counts), "words,", len(shapes), "shapes")
