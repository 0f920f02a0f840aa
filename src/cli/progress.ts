// Progress lines of the long-running commands (dataset seeds, training): on a terminal one line
// rewritten in place; otherwise (logs, CI) a line every 10 seconds and the last one.

export function renderBar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export interface ProgressWriter {
  /** Shows `line`; `seconds` since the start paces the non-terminal output; `last` always prints. */
  update(line: string, seconds: number, last: boolean): void;
  /** Prints a message on its own line (after the progress line on a terminal). */
  note(message: string): void;
  /** Ends the progress line on a terminal. */
  end(): void;
}

export function progressWriter(stream: NodeJS.WriteStream = process.stderr, everySeconds = 10): ProgressWriter {
  const tty = stream.isTTY;
  let lastLine = -Infinity;
  let open = false;
  return {
    update(line, seconds, last) {
      if (tty) {
        const width = (stream.columns ?? 100) - 1;
        stream.write(`\r${line.slice(0, width).padEnd(Math.min(100, width))}`);
        open = true;
      } else if (seconds - lastLine >= everySeconds || last) {
        lastLine = seconds;
        stream.write(`${line}\n`);
      }
    },
    note(message) {
      stream.write(`${open ? '\n' : ''}${message}\n`);
      open = false;
    },
    end() {
      if (open) stream.write('\n');
      open = false;
    },
  };
}
