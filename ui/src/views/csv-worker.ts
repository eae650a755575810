// Parses the first 1,000 rows of a CSV/TSV off the main thread (a large file never freezes the page).
self.onmessage = (e: MessageEvent<{ text: string; sep: string }>) => {
  const { text, sep } = e.data;
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length && rows.length < 1001; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false; } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === sep) { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if ((field || row.length) && rows.length < 1001) { row.push(field); rows.push(row); }
  (self as unknown as Worker).postMessage(rows);
};
