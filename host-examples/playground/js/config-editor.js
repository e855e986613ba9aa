// The config editor: a JSON textarea checked on every edit by relink's own validation
// (`checkConfig`), each problem listed under the editor with the line it is on; clicking a
// problem selects that line.

// Line (1-based) of a dotted config field in the JSON text, by finding each key in turn;
// null when a key is not written (a problem with a default value).
export function fieldLine(text, field) {
  let pos = 0;
  for (const raw of field.replace(/\s*\(.*\)$/, "").split(".")) {
    const key = raw.replace(/\[\d+\]$/, "");
    const idx = text.indexOf(`"${key}"`, pos);
    if (idx < 0) return pos === 0 ? null : lineAt(text, pos);
    pos = idx;
  }
  return lineAt(text, pos);
}

// Line of a serde_json error message (`... at line 3 column 5`).
export function messageLine(message) {
  const m = /line (\d+) column (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

function lineAt(text, pos) {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i += 1) start += lines[i].length + 1;
  const end = start + (lines[line - 1]?.length ?? 0);
  textarea.focus();
  textarea.setSelectionRange(start, end);
}

export class ConfigEditor {
  constructor(textarea, list, checkConfig, onChange) {
    this.textarea = textarea;
    this.list = list;
    this.checkConfig = checkConfig;
    this.problems = [];
    let timer = null;
    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.check();
        onChange();
      }, 150);
    });
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.check();
  }

  // Validates and lists the problems; returns true when the config is valid.
  check() {
    const text = this.textarea.value;
    let problems;
    try {
      problems = JSON.parse(this.checkConfig(text));
    } catch (e) {
      problems = [{ field: null, message: `config: could not be checked: ${e.message ?? e}` }];
    }
    this.problems = problems.map((p) => ({
      ...p,
      line: p.field ? fieldLine(text, p.field) : messageLine(p.message),
    }));
    this.list.replaceChildren();
    for (const p of this.problems) {
      const li = document.createElement("li");
      li.className = "problem";
      if (p.line) {
        const a = document.createElement("a");
        a.href = "#";
        a.textContent = `line ${p.line}`;
        a.addEventListener("click", (e) => {
          e.preventDefault();
          selectLine(this.textarea, p.line);
        });
        li.append(a, " ");
      }
      li.append(p.message);
      this.list.append(li);
    }
    this.textarea.classList.toggle("invalid", this.problems.length > 0);
    this.textarea.setAttribute("aria-invalid", String(this.problems.length > 0));
    return this.problems.length === 0;
  }
}
