/**
 * "Quant Lens: Show as Text": a read-only document (scheme quantlens-dump) with the model as stable text, its
 * own language and grammar (syntaxes/quantlens-dump.tmLanguage.json), an outline (sections, blocks, tensors)
 * and folding, both read by dumpOutline (src/core/report/textDump.ts), which knows the line format.
 */
import * as vscode from 'vscode';
import type { WorkerPool } from '../node/workerPool.ts';
import { dumpOutline, type DumpSymbol } from '../core/report/textDump.ts';
import { modelLocation, modelName } from './modelUri.ts';
import { oneLine } from '../core/errors.ts';

export const DUMP_SCHEME = 'quantlens-dump';

export class DumpContentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly pool: WorkerPool) {}

  /** quantlens-dump:/<file name>.qldump?<encoded model path or URL> */
  static uriFor(model: vscode.Uri): vscode.Uri {
    return vscode.Uri.from({ scheme: DUMP_SCHEME, path: `/${modelName(model)}.qldump`, query: encodeURIComponent(modelLocation(model)) });
  }

  /**
   * Why the last dump of a model failed, by dump URI: VS Code words a provider's failure with the internal
   * quantlens-dump URI, so Show as Text says this instead.
   */
  static readonly failures = new Map<string, string>();

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const path = decodeURIComponent(uri.query);
    try {
      const r = await this.pool.run({ kind: 'dump', path, withStats: false }).promise;
      DumpContentProvider.failures.delete(uri.toString());
      return r.text;
    } catch (e) {
      DumpContentProvider.failures.set(uri.toString(), oneLine(e));
      throw e;
    }
  }
}

const SYMBOL_KINDS: Record<DumpSymbol['kind'], vscode.SymbolKind> = {
  section: vscode.SymbolKind.Namespace,
  group: vscode.SymbolKind.Module,
  tensor: vscode.SymbolKind.Field,
  key: vscode.SymbolKind.Property,
};

function linesOf(doc: vscode.TextDocument): string[] {
  return Array.from({ length: doc.lineCount }, (_, i) => doc.lineAt(i).text);
}

/** The outline: sections, blocks and tensors, metadata keys (names as the dump writes them). */
export class DumpSymbolProvider implements vscode.DocumentSymbolProvider {
  provideDocumentSymbols(doc: vscode.TextDocument): vscode.DocumentSymbol[] {
    const convert = (s: DumpSymbol): vscode.DocumentSymbol => {
      const range = new vscode.Range(s.line, 0, s.endLine, doc.lineAt(s.endLine).range.end.character);
      const symbol = new vscode.DocumentSymbol(s.name, s.detail, SYMBOL_KINDS[s.kind], range, doc.lineAt(s.line).range);
      symbol.children = s.children.map(convert);
      return symbol;
    };
    return dumpOutline(linesOf(doc)).map(convert);
  }
}

/** Folding: each section and each group folds to its first line. */
export class DumpFoldingProvider implements vscode.FoldingRangeProvider {
  provideFoldingRanges(doc: vscode.TextDocument): vscode.FoldingRange[] {
    const ranges: vscode.FoldingRange[] = [];
    const add = (s: DumpSymbol) => {
      if (s.kind !== 'section' && s.kind !== 'group') return;
      if (s.endLine > s.line) ranges.push(new vscode.FoldingRange(s.line, s.endLine));
      s.children.forEach(add);
    };
    dumpOutline(linesOf(doc)).forEach(add);
    return ranges;
  }
}
