/** The custom editor for .gguf / .safetensors files: header on the host, analyses in workers, UI in a webview. */
import * as vscode from 'vscode';
import { ModelDocument } from './modelDocument.ts';
import type { ProgressCallback, WorkerPool } from '../node/workerPool.ts';
import { webviewHtml } from './webviewHtml.ts';
import { buildWebviewModel, typeSharesOf } from './webviewModel.ts';
import type { Comparison } from '../core/compare/compare.ts';
import { openModelAndWeights } from '../core/hfquant/open.ts';
import { baseName } from '../core/io/location.ts';
import type { GroupRecord } from '../core/hfquant/weights.ts';
import type {
  FromWebview,
  GroupView,
  JobProgress,
  Notice,
  SensitivityView,
  Replies,
  Request,
  RequestType,
  ToWebview,
  WebviewSettings,
} from '../shared/webviewProtocol.ts';
import type { ModelRegistry } from './modelRegistry.ts';
import type { HubToken } from './hubToken.ts';
import { isRemote, modelLocation, modelName } from './modelUri.ts';
import { lookupTokens } from '../core/analysis/tokenizer.ts';
import { readArrayPage } from '../core/formats/gguf.ts';
import type { ArrayValue } from '../core/model.ts';
import { oneLine } from '../core/errors.ts';
import { DEFAULT_CANDIDATES, whatIfCandidates } from '../core/analysis/whatIf.ts';
import { tensorSource } from '../core/analysis/valueSource.ts';

export const VIEW_TYPE = 'quantLens.modelEditor';
const HEATMAP_SIZE = 128;

export function readSettings(): WebviewSettings {
  const c = vscode.workspace.getConfiguration('quantLens');
  return { bins: c.get<number>('histogramBins', 64), histogramScale: c.get<'linear' | 'log'>('histogramScale', 'linear') };
}

/** A group record as the webview takes it (bytes as numbers: messages are JSON). */
function groupView(r: GroupRecord): GroupView {
  return { ...r, sources: r.sources.map((s) => ({ ...s, bytes: [...s.bytes] })) };
}

export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  private readonly panels = new Map<ModelDocument, vscode.WebviewPanel>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly pool: WorkerPool,
    private readonly registry: ModelRegistry,
    private readonly hubToken: HubToken,
  ) {}

  /**
   * The document at once, its header read in the background: the editor opens on its loading state (webviewHtml.ts)
   * and fills when the header is read (a second or two for a large one), which the status bar says too.
   */
  openCustomDocument(uri: vscode.Uri): ModelDocument {
    const doc = ModelDocument.open(uri, this.pool, this.hubToken.remoteOptions());
    void vscode.window.withProgress(
      isRemote(uri)
        ? // a remote header can take a few seconds: say what is happening meanwhile
          {
            location: vscode.ProgressLocation.Notification,
            title: vscode.l10n.t('Quant Lens: reading the header of {0} from {1}', modelName(uri), uri.authority),
          }
        : { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Quant Lens: reading {0}', modelName(uri)) },
      () => doc.ready,
    );
    return doc;
  }

  /** The editor of a document whose panel is active, for commands run from the title bar or palette. */
  activeDocument(): ModelDocument | undefined {
    for (const [doc, panel] of this.panels) if (panel.active) return doc;
    return undefined;
  }

  /** The open editor of a file, if any. */
  documentFor(uri: vscode.Uri): ModelDocument | undefined {
    for (const doc of this.panels.keys()) if (doc.uri.toString() === uri.toString()) return doc;
    return undefined;
  }

  /** The sensitivity colouring last shown for each model (by URI), shown again when its editor opens anew. */
  private readonly shownSensitivity = new Map<string, SensitivityView>();

  /** Colours a model's quant map and table by a sensitivity measurement, now and whenever its editor reopens. */
  showSensitivity(uri: vscode.Uri, sensitivity: SensitivityView): void {
    this.shownSensitivity.set(uri.toString(), sensitivity);
    const doc = this.documentFor(uri);
    if (doc) this.post(doc, { type: 'sensitivity', sensitivity });
  }

  post(doc: ModelDocument, message: Notice): void {
    const panel = this.panels.get(doc);
    if (!panel) return;
    panel.reveal();
    void panel.webview.postMessage(message);
  }

  /** A comparison to its model's editor, with the reference's size by type (its header read again, briefly). */
  async postComparison(doc: ModelDocument, comparison: Comparison): Promise<void> {
    let referenceTypes;
    try {
      const { model, view } = await openModelAndWeights(comparison.reference, this.hubToken.remoteOptions());
      try {
        referenceTypes = typeSharesOf(model, view);
      } finally {
        await model.close();
      }
    } catch {
      // the comparison itself read the reference: without its types the Summary says it could not size them
    }
    this.post(doc, { type: 'comparison', comparison, referenceTypes });
  }

  /** Save a chart's PNG where the user says: through a temporary file beside it, checked, then renamed. */
  private async savePng(doc: ModelDocument, name: string, png: string): Promise<void> {
    const bytes = Buffer.from(png, 'base64');
    const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Quant Lens: the chart {0} could not be drawn as a PNG', name));
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? (isRemote(doc.uri) ? undefined : vscode.Uri.joinPath(doc.uri, '..'));
    const target = await vscode.window.showSaveDialog({
      title: vscode.l10n.t('Save {0}', name),
      defaultUri: folder && vscode.Uri.joinPath(folder, name),
      filters: { 'PNG image': ['png'] },
    });
    if (!target) return;
    const temporary = target.with({ path: `${target.path}.${process.pid}.tmp` });
    try {
      await vscode.workspace.fs.writeFile(temporary, bytes);
      const written = await vscode.workspace.fs.readFile(temporary);
      if (written.length !== bytes.length || !Buffer.from(written).equals(bytes))
        throw new Error(vscode.l10n.t('{0} does not read back as written', baseName(temporary.fsPath)));
      await vscode.workspace.fs.rename(temporary, target, { overwrite: true });
    } catch (e) {
      await vscode.workspace.fs.delete(temporary).then(undefined, () => undefined);
      void vscode.window.showErrorMessage(vscode.l10n.t('Quant Lens: could not save {0}: {1}', baseName(target.fsPath), oneLine(e)));
    }
  }

  reveal(doc: ModelDocument, tensor: string): void {
    const panel = this.panels.get(doc);
    if (!panel) return;
    panel.reveal();
    void panel.webview.postMessage({ type: 'reveal', tensor } satisfies Notice);
  }

  async resolveCustomEditor(doc: ModelDocument, panel: vscode.WebviewPanel): Promise<void> {
    this.panels.set(doc, panel);
    this.registry.add(doc);
    const dist = vscode.Uri.joinPath(this.context.extensionUri, 'dist');
    panel.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    panel.webview.html = webviewHtml(panel.webview, dist, modelName(doc.uri));
    const post = (m: ToWebview) => void panel.webview.postMessage(m);
    const subscriptions: vscode.Disposable[] = [];
    panel.onDidDispose(() => {
      this.panels.delete(doc);
      this.registry.remove(doc);
      doc.cancelJobs();
      subscriptions.forEach((s) => s.dispose());
    });
    subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('quantLens')) post({ type: 'settings', settings: readSettings() });
      }),
    );

    /** The replies to one request: each carries the request's id. */
    const replyTo =
      <K extends RequestType>(request: Request<K>) =>
      (r: Replies[K]) =>
        post({ ...r, inReplyTo: request.id });

    /** A job for the tensor shown (or the whole model): progress inline and in the explorer, errors as one line. */
    const runInView = async (
      label: string,
      tensor: string | undefined,
      reply: (r: JobProgress) => void,
      work: (progress: ProgressCallback) => Promise<void>,
    ) => {
      try {
        await vscode.window.withProgress({ location: { viewId: 'workbench.view.explorer' }, title: label }, () =>
          work((done, total, fetched) => reply({ type: 'progress', label, done, total, ...(fetched ? { fetched } : {}) })),
        );
        reply({ type: 'jobDone' });
      } catch (e) {
        if ((e as { code?: string }).code === 'cancelled') reply({ type: 'jobCancelled', tensor });
        else reply({ type: 'jobError', tensor, message: oneLine(e) });
      }
    };

    panel.webview.onDidReceiveMessage(async (m: FromWebview) => {
      const path = modelLocation(doc.uri);
      const settings = readSettings();
      /** The |w| heatmap of a tensor or logical weight, then (once compared) its values against the reference. */
      const heatmapAndComparison = async (name: string, reply: (r: Replies['selectTensor']) => void) => {
        const heat = await doc.run({ kind: 'heatmap', path, tensor: name, width: HEATMAP_SIZE, height: HEATMAP_SIZE });
        reply({ type: 'heatmap', heatmap: heat.heatmap });
        if (!doc.reference) return;
        try {
          const cmp = await doc.run({ kind: 'compareTensor', path, reference: doc.reference, tensor: name, bins: settings.bins });
          reply({ type: 'tensorComparison', detail: cmp.detail });
        } catch (e) {
          // an entry without a counterpart in the reference simply has no comparison
          if ((e as { code?: string }).code !== 'usage') throw e;
        }
      };
      switch (m.type) {
        case 'ready': {
          const reply = replyTo(m);
          // the page shows its loading state until the header is read
          await doc.ready;
          if (!doc.model) return reply({ type: 'openError', ...(doc.openError ?? { message: 'cannot open this file', unreadable: true }) });
          reply({
            type: 'model',
            fileName: modelName(doc.uri),
            ...(await buildWebviewModel(doc.model, doc.quantized)),
            settings,
            ...(doc.model.truncation ? { truncation: doc.model.truncation } : {}),
          });
          const sensitivity = this.shownSensitivity.get(doc.uri.toString());
          if (sensitivity) post({ type: 'sensitivity', sensitivity });
          return;
        }
        case 'selectTensor': {
          doc.cancelJobs();
          const w = doc.logicalWeight(m.tensor);
          if (w) {
            // a logical weight: exact stats of its dequantized values, then its group scales (the worker decodes)
            return runInView(`Quant Lens: ${w.name}`, w.name, replyTo(m), async (progress) => {
              const reply = replyTo(m);
              // its data-level checks first (a few small reads): act-order, v1 zero overflow ... and the full scheme
              const checks = await doc.run({ kind: 'weightChecks', path, tensor: w.name });
              reply({ type: 'checks', checks: checks.checks });
              const stats = await doc.run({ kind: 'stats', path, tensor: w.name, bins: settings.bins }, progress);
              reply({ type: 'stats', tensor: w.name, stats: stats.stats });
              const scales = await doc.run({ kind: 'scales', path, tensor: w.name, bins: settings.bins });
              reply({ type: 'scales', tensor: w.name, scales: scales.scales });
              const group = await doc.run({ kind: 'group', path, tensor: w.name, row: 0, group: 0 });
              reply({ type: 'group', view: groupView(group.record) });
              await heatmapAndComparison(w.name, reply);
            });
          }
          const t = doc.tensor(m.tensor);
          if (!t) return;
          const reply = replyTo(m);
          return runInView(`Quant Lens: ${t.name}`, t.name, reply, async (progress) => {
            // the first block reads a few bytes: show it while the passes over the whole tensor run
            const block = await doc.run({ kind: 'block', path, tensor: t.name, index: 0 });
            reply({ type: 'block', view: block.view });
            const stats = await doc.run({ kind: 'stats', path, tensor: t.name, bins: settings.bins }, progress);
            reply({ type: 'stats', tensor: t.name, stats: stats.stats });
            const scales = await doc.run({ kind: 'scales', path, tensor: t.name, bins: settings.bins });
            reply({ type: 'scales', tensor: t.name, scales: scales.scales });
            await heatmapAndComparison(t.name, reply);
          });
        }
        case 'block': {
          const reply = replyTo(m);
          try {
            const r = await doc.run({ kind: 'block', path, tensor: m.tensor, index: m.index });
            reply({ type: 'block', view: r.view });
          } catch (e) {
            reply({ type: 'jobError', tensor: m.tensor, message: oneLine(e) });
          }
          return;
        }
        case 'group': {
          const reply = replyTo(m);
          try {
            const r = await doc.run({ kind: 'group', path, tensor: m.tensor, row: m.row, group: m.group });
            reply({ type: 'group', view: groupView(r.record) });
          } catch (e) {
            reply({ type: 'jobError', tensor: m.tensor, message: oneLine(e) });
          }
          return;
        }
        case 'whatIf': {
          const reply = replyTo(m);
          return runInView(`Quant Lens: what-if for ${m.tensor}`, m.tensor, reply, async (progress) => {
            // a logical weight's rows are its `in` columns; a tensor's as the streaming views read it
            const w = doc.logicalWeight(m.tensor);
            const t = w ? undefined : doc.tensor(m.tensor);
            const candidates = w
              ? whatIfCandidates({ rowLength: w.cols }, m.candidates)
              : t && doc.model
                ? whatIfCandidates(tensorSource(doc.model, t), m.candidates)
                : [...DEFAULT_CANDIDATES];
            const r = await doc.run({ kind: 'whatIf', path, tensor: m.tensor, candidates, imatrix: doc.imatrix }, progress);
            reply({ type: 'whatIf', tensor: m.tensor, rows: r.rows });
          });
        }
        case 'candidateError': {
          const reply = replyTo(m);
          return runInView(`Quant Lens: error of ${m.candidate}`, m.tensor, reply, async (progress) => {
            const r = await doc.run(
              { kind: 'candidateError', path, tensor: m.tensor, candidate: m.candidate, bins: settings.bins, imatrix: doc.imatrix },
              progress,
            );
            reply({ type: 'candidateError', tensor: m.tensor, candidate: r.candidate, stats: r.stats });
          });
        }
        case 'findTokens':
          if (doc.model) replyTo(m)({ type: 'tokens', ...(await lookupTokens(doc.model, m.query)) });
          return;
        case 'arrayPage': {
          const entry = doc.model?.metadata.find((e) => e.key === m.key);
          const arr = entry?.value as ArrayValue | undefined;
          if (!doc.model || !arr || arr.kind !== 'array') return;
          const values = await readArrayPage(doc.model.files[arr.fileIndex].source, arr, m.start, m.count);
          return replyTo(m)({
            type: 'arrayPage',
            key: m.key,
            start: m.start,
            values: values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))),
          });
        }
        case 'cancel':
          doc.cancelJobs();
          return;
        case 'savePng':
          return this.savePng(doc, m.name, m.png);
        case 'comparisonReport':
          return runInView('Quant Lens: report', undefined, replyTo(m), async (progress) => {
            const r = await doc.run({ kind: 'report', path, reference: m.reference, format: 'md' }, progress);
            const md = await vscode.workspace.openTextDocument({ language: 'markdown', content: r.text });
            await vscode.window.showTextDocument(md, { preview: false });
          });
        case 'command':
          return void vscode.commands.executeCommand(`quantLens.${m.command}`, doc.uri, m.tensors);
      }
    });
  }
}
