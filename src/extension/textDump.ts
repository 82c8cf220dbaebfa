/**
 * "Quant Lens: Show as Text": a read-only document (scheme quantlens-dump) with the model as stable text, its
 * own language and grammar (syntaxes/quantlens-dump.tmLanguage.json), an outline (sections, blocks, tensors)
 * and folding.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { WorkerPool } from './workerPool.ts';

export const DUMP_SCHEME = 'quantlens-dump';

export class DumpContentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly pool: WorkerPool) {}

  /** quantlens-dump:/<file name>.qldump?<encoded model path> */
  static uriFor(model: vscode.Uri): vscode.Uri {
    return vscode.Uri.from({ scheme: DUMP_SCHEME, path: `/${basename(model.fsPath)}.qldump`, query: encodeURIComponent(model.fsPath) });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const path = decodeURIComponent(uri.query);
    const r = await this.pool.run({ kind: 'dump', path, withStats: false }).promise;
    return r.kind === 'text' ? r.text : '';
  }
}

const SECTION = /^== (\w+)/;
const GROUP = /^-- (.+)$/;
const TENSOR = /^([A-Za-z0-9_.\-]+) (\S+(?: type \d+)?) \[/;

export class DumpSymbolProvider implements vscode.DocumentSymbolProvider {
  provideDocumentSymbols(doc: vscode.TextDocument): vscode.DocumentSymbol[] {
    const out: vscode.DocumentSymbol[] = [];
    let section: vscode.DocumentSymbol | undefined;
    let group: vscode.DocumentSymbol | undefined;
    const close = (s: vscode.DocumentSymbol | undefined, line: number) => {
      if (s) s.range = new vscode.Range(s.range.start, doc.lineAt(Math.max(s.range.start.line, line)).range.end);
    };
    for (let i = 0; i < doc.lineCount; i++) {
      const text = doc.lineAt(i).text;
      const range = doc.lineAt(i).range;
      let m: RegExpExecArray | null;
      if ((m = SECTION.exec(text))) {
        close(group, i - 1);
        close(section, i - 1);
        group = undefined;
        section = new vscode.DocumentSymbol(m[1], text.slice(3), vscode.SymbolKind.Namespace, range, range);
        out.push(section);
      } else if ((m = GROUP.exec(text)) && section) {
        close(group, i - 1);
        group = new vscode.DocumentSymbol(m[1], '', vscode.SymbolKind.Module, range, range);
        section.children.push(group);
      } else if (section?.name === 'tensors' && (m = TENSOR.exec(text))) {
        (group ?? section).children.push(new vscode.DocumentSymbol(m[1], m[2], vscode.SymbolKind.Field, range, range));
      } else if (section?.name === 'metadata' && text) {
        const key = text.split(' ')[0];
        section.children.push(new vscode.DocumentSymbol(key, text.split(' ')[1] ?? '', vscode.SymbolKind.Property, range, range));
      }
    }
    close(group, doc.lineCount - 1);
    close(section, doc.lineCount - 1);
    return out;
  }
}

export class DumpFoldingProvider implements vscode.FoldingRangeProvider {
  provideFoldingRanges(doc: vscode.TextDocument): vscode.FoldingRange[] {
    const ranges: vscode.FoldingRange[] = [];
    let section = -1;
    let group = -1;
    const end = (start: number, line: number) => {
      if (start >= 0 && line > start) ranges.push(new vscode.FoldingRange(start, line));
    };
    for (let i = 0; i < doc.lineCount; i++) {
      const text = doc.lineAt(i).text;
      if (SECTION.test(text)) {
        end(group, i - 1);
        end(section, i - 1);
        section = i;
        group = -1;
      } else if (GROUP.test(text)) {
        end(group, i - 1);
        group = i;
      }
    }
    end(group, doc.lineCount - 1);
    end(section, doc.lineCount - 1);
    return ranges;
  }
}
