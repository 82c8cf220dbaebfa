/**
 * The messages between the extension host and the evaluation report panel (src/extension/evalPanel.ts). The panel
 * is rendered by the host; its small inline script only forwards button presses and shows progress.
 */

/** Host → panel, while the evaluation runs. */
export type ToEvalPanel = { type: 'progress'; done: number; total: number; stage: string };

/** Panel → host: the buttons. */
export type FromEvalPanel = { type: 'cancel' } | { type: 'export'; format: 'md' | 'json' } | { type: 'openMarkdown' };
