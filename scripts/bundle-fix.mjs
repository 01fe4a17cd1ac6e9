// Two rewrites of esbuild's output that scripts/bundle.mjs applies to each
// bundle file, so that the bundle runs and reads as tsc's modules do. See
// bundle.mjs for an overview (rules B4 and B5).
//
// restoreClassNames: esbuild writes a class that names itself in its body as
//   `var Heap = class _Heap` (evanw/esbuild#3516), so Heap.name, util.inspect
//   and stack frames said "_Heap". Each such `_Heap` becomes ` Heap`: the
//   class expression's own binding, the same class, and the same length, so
//   the source map needs no change. (esbuild's keepNames would fix .name but
//   wraps every function and closure in a __name() call: a cost on each
//   closure made, and a name collections/gc-helper.ts's helperMain, run from
//   its source text in a worker, cannot resolve.)
//
// restoreConst: esbuild writes every top-level const, let and class of a
//   bundle as var (its FAQ, "top-level var"). A var is a mutable slot that
//   TurboFan reads on every use, where a module's const is folded into the
//   code: the layout constants the hot modules destructure into consts
//   (heap/layout.ts) were no longer folded and pair64 ran 48% slower. Every
//   top-level var statement whose names all get a value there and are never
//   assigned anywhere in the file becomes const again; the source map's
//   columns after the keyword on that line move by the two characters added.
import ts from "typescript";

/** `text` with each `var X = class _X` named X again (see above). */
export function restoreClassNames(text) {
  let fixed = text;
  for (const [, name] of text.matchAll(/^var ([\w$]+) = class _\1\b/gm)) {
    fixed = fixed.replace(new RegExp(`(?<![\\w$.])_${name}(?![\\w$])`, "g"), ` ${name}`);
  }
  return fixed;
}

/** The names a binding (identifier or destructuring pattern) declares. */
function boundNames(name, out = []) {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const e of name.elements) if (!ts.isOmittedExpression(e)) boundNames(e.name, out);
  return out;
}

/** Every name the file assigns to, anywhere (=, op=, ++, --, destructuring, for-in/of heads). Shadowed names count too: the check errs toward var. */
function assignedNames(file) {
  const assigned = new Set();
  const target = (n) => {
    if (ts.isIdentifier(n)) assigned.add(n.text);
    else if (ts.isParenthesizedExpression(n)) target(n.expression);
    else if (ts.isArrayLiteralExpression(n)) for (const e of n.elements) target(ts.isSpreadElement(e) ? e.expression : e);
    else if (ts.isObjectLiteralExpression(n)) {
      for (const p of n.properties) {
        if (ts.isPropertyAssignment(p)) target(p.initializer);
        else if (ts.isShorthandPropertyAssignment(p)) target(p.name);
        else if (ts.isSpreadAssignment(p)) target(p.expression);
      }
    } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken) target(n.left); // a default: [a = 1] = xs
  };
  const visit = (n) => {
    if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment) target(n.left);
    else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) target(n.operand);
    else if ((ts.isForInStatement(n) || ts.isForOfStatement(n)) && !ts.isVariableDeclarationList(n.initializer)) target(n.initializer);
    ts.forEachChild(n, visit);
  };
  visit(file);
  return assigned;
}

/**
 * `text` with each top-level var that is never assigned written as const
 * (see above), and the positions (0-based line, column of the keyword) of
 * the edits, for shiftMap.
 */
export function restoreConst(text) {
  const file = ts.createSourceFile("bundle.js", text, ts.ScriptTarget.ESNext, true, ts.ScriptKind.JS);
  const assigned = assignedNames(file);
  const at = [];
  for (const s of file.statements) {
    if (!ts.isVariableStatement(s) || (s.declarationList.flags & ts.NodeFlags.BlockScoped) !== 0) continue;
    if (s.declarationList.declarations.every((d) => d.initializer !== undefined && boundNames(d.name).every((n) => !assigned.has(n)))) {
      at.push(s.declarationList.getStart(file));
    }
  }
  let out = text;
  for (const pos of [...at].reverse()) out = `${out.slice(0, pos)}const${out.slice(pos + 3)}`;
  // Each edit shifts the ones after it on its line by 2 in the new text; shiftMap wants the old columns.
  return { text: out, edits: at.map((pos) => file.getLineAndCharacterOfPosition(pos)) };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The first base64 VLQ of a source map segment, and the rest of the segment as it was. */
function firstVlq(segment) {
  let value = 0;
  let shift = 0;
  let i = 0;
  for (;;) {
    const digit = B64.indexOf(segment[i++]);
    value += (digit & 31) << shift;
    shift += 5;
    if ((digit & 32) === 0) break;
  }
  return { value: value & 1 ? -(value >>> 1) : value >>> 1, rest: segment.slice(i) };
}

function vlq(value) {
  let v = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = "";
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    out += B64[digit];
  } while (v > 0);
  return out;
}

/**
 * A source map (JSON text) for restoreConst's output: on each edited line,
 * every generated column past an edit's keyword moves right by 2 per edit
 * before it. Only the first field of a segment (its generated column, a
 * delta within the line) changes.
 */
export function shiftMap(mapText, edits) {
  if (edits.length === 0) return mapText;
  const map = JSON.parse(mapText);
  const lines = map.mappings.split(";");
  const byLine = new Map();
  for (const e of edits) byLine.set(e.line, [...(byLine.get(e.line) ?? []), e]);
  for (const [line, lineEdits] of byLine) {
    if (!lines[line]) continue;
    let col = 0;
    let newPrev = 0;
    lines[line] = lines[line].split(",").map((segment) => {
      const { value, rest } = firstVlq(segment);
      col += value;
      const moved = col + 2 * lineEdits.filter((e) => col > e.character).length;
      const out = vlq(moved - newPrev) + rest;
      newPrev = moved;
      return out;
    }).join(",");
  }
  map.mappings = lines.join(";");
  return JSON.stringify(map);
}
