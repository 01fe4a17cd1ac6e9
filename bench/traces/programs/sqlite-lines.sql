-- Load every line of a source file with its line number, index it, query it.
.mode csv
.import lines.csv lines
CREATE TABLE src AS SELECT CAST(n AS INTEGER) AS n, text, length(text) AS len, lower(trim(text)) AS norm FROM lines;
CREATE INDEX src_len ON src(len);
CREATE INDEX src_norm ON src(norm);
SELECT count(*), sum(len), max(len) FROM src;
SELECT norm, count(*) AS c FROM src WHERE len > 0 GROUP BY norm ORDER BY c DESC LIMIT 5;
SELECT count(*) FROM src WHERE text LIKE '%function%';
SELECT a.len, count(*) FROM src a JOIN src b ON a.norm = b.norm AND a.n < b.n WHERE a.len BETWEEN 20 AND 40 GROUP BY a.len ORDER BY 2 DESC LIMIT 3;
SELECT substr(norm, 1, 12) AS head, count(*), avg(len) FROM src GROUP BY head ORDER BY 2 DESC LIMIT 5;
