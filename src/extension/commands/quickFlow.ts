/**
 * The steps of a command (pick a type, type patterns, check a preview) in one quick-input widget that stays open
 * from the first step to the last. Separate showQuickPick/showInputBox calls close the widget between steps; VS Code
 * then gives the focus back to the editor, and a webview editor takes it a moment later, after the next step has
 * opened: the user's typing went into the editor. Here each step is shown before the previous one is disposed, so
 * the widget never closes until the flow ends, and it stays open while the user looks something up elsewhere.
 */
import * as vscode from 'vscode';

export class QuickFlow implements vscode.Disposable {
  private current: vscode.QuickInput | undefined;

  /** Shows `next` in place of the current step. */
  private show(next: vscode.QuickInput): void {
    next.ignoreFocusOut = true;
    next.show();
    this.current?.dispose();
    this.current = next;
  }

  /**
   * A choice; undefined if the user pressed Escape. `accepts` says which items end the step (others, such as
   * preview rows, leave it open).
   */
  pick<T extends vscode.QuickPickItem>(
    title: string,
    items: T[],
    options: { placeholder?: string; accepts?: (item: T) => boolean } = {},
  ): Promise<T | undefined> {
    const input = vscode.window.createQuickPick<T>();
    input.title = title;
    input.items = items;
    input.placeholder = options.placeholder;
    input.matchOnDescription = true;
    return new Promise((resolve) => {
      input.onDidAccept(() => {
        const item = input.selectedItems[0] ?? input.activeItems[0];
        if (!item || (options.accepts && !options.accepts(item))) return;
        resolve(item);
      });
      input.onDidHide(() => resolve(undefined));
      this.show(input);
    });
  }

  /** A line of text; undefined if the user pressed Escape. */
  text(title: string, options: { value?: string; prompt?: string }): Promise<string | undefined> {
    const input = vscode.window.createInputBox();
    input.title = title;
    input.value = options.value ?? '';
    input.prompt = options.prompt;
    return new Promise((resolve) => {
      input.onDidAccept(() => resolve(input.value));
      input.onDidHide(() => resolve(undefined));
      this.show(input);
    });
  }

  /** While work runs between steps: the current step greyed out with a busy indicator. */
  busy(on: boolean): void {
    if (!this.current) return;
    this.current.busy = on;
    this.current.enabled = !on;
  }

  dispose(): void {
    this.current?.dispose();
    this.current = undefined;
  }
}
