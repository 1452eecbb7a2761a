import { isRequest, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { readProjectFile } from "../lib/project-file.ts";
import { paths } from "../lib/paths.ts";
import { rawTargetEntry } from "../lib/raw-config.ts";
import {
  brokenListAnswer,
  brokenText,
  decide,
  filterList,
  governs,
  hasRules,
  hiddenAnswer,
  LIST_FIELDS,
  RULE_KINDS,
  rulesFor,
  type RuleKind,
  type TargetRules,
} from "../lib/tool-rules.ts";
import type { Log } from "./bridge.ts";

/**
 * The target's tool rules applied to one session (docs/configuration.md "Tool rules"). It sits outermost, between
 * the editor and everything else in the proxy: whatever answers a request — the server, a restart's replay, the
 * discovery cache — its answer passes `toEditor`, and a request for something hidden never leaves `fromEditor`.
 */
export interface RulesFilter {
  /** An editor message on its way in: undefined to pass it on, or the answer msm gives in the server's place. */
  fromEditor(message: JsonRpcMessage): JsonRpcMessage | undefined;
  /** A message on its way to the editor: the same object when nothing is hidden in it, a copy when something is, undefined to drop it. */
  toEditor(message: JsonRpcMessage): JsonRpcMessage | undefined;
}

const PASS: RulesFilter = { fromEditor: () => undefined, toEditor: (message) => message };

/**
 * The rules of `target` for a session in `project`: the target's entry in config.json (read without zod: the
 * proxy's fast path), then the project's `.claude/msm.json`, which can only hide more. Without a target (`--url`)
 * or without rules, every message passes untouched.
 */
export function sessionRules(target: string | undefined, project: string | undefined, log: Log): RulesFilter {
  if (!target) return PASS;
  const { rules, notes } = rulesFor(target, rawTargetEntry(target), paths.config(), project === undefined ? undefined : readProjectFile(project));
  for (const note of notes) log.warn(note);
  for (const kind of RULE_KINDS) {
    const problem = rules.broken[kind];
    if (problem !== undefined) log.warn(brokenText(target, kind, problem));
  }
  return hasRules(rules) ? new SessionRules(rules) : PASS;
}

class SessionRules implements RulesFilter {
  /** List requests in flight, by id: their answers are filtered on the way back. */
  private readonly lists = new Map<JsonRpcId, string>();

  constructor(private readonly rules: TargetRules) {}

  fromEditor(message: JsonRpcMessage): JsonRpcMessage | undefined {
    if (message.method === "notifications/cancelled") {
      // The editor ignores a cancelled request's answer (if one still comes, it passes unfiltered into nothing).
      const id = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      if (id !== undefined) this.lists.delete(id);
      return undefined;
    }
    if (!isRequest(message)) return undefined;
    const list = LIST_FIELDS[message.method];
    if (list) {
      if (!governs(this.rules, list.kind)) return undefined;
      const problem = this.rules.broken[list.kind];
      if (problem !== undefined) return brokenListAnswer(message.id, this.rules.target, list.kind, problem);
      this.lists.set(message.id, message.method);
      return undefined;
    }
    const named = namedIn(message);
    if (!named || !governs(this.rules, named.kind)) return undefined;
    const hidden = decide(this.rules, named.kind, named.name);
    return hidden ? hiddenAnswer(message.id, this.rules.target, named.kind, named.name, hidden) : undefined;
  }

  toEditor(message: JsonRpcMessage): JsonRpcMessage | undefined {
    if (message.method === "notifications/resources/updated") {
      // Only a subscription makes these, and a hidden resource cannot be subscribed to; a server that sends them
      // anyway must not name a hidden URI.
      const uri = (message.params as { uri?: unknown } | undefined)?.uri;
      return typeof uri === "string" && governs(this.rules, "resources") && decide(this.rules, "resources", uri) ? undefined : message;
    }
    if (message.method !== undefined || message.id === undefined || message.id === null) return message;
    const method = this.lists.get(message.id);
    if (method === undefined) return message;
    this.lists.delete(message.id);
    if (!("result" in message)) return message;
    const { result, hidden } = filterList(this.rules, method, message.result);
    return hidden ? { ...message, result } : message;
  }
}

/** What a request names that a rule may hide: the tool called, the prompt got, the resource read. */
function namedIn(message: JsonRpcMessage & { method: string }): { kind: RuleKind; name: string } | undefined {
  const params = (message.params ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  let kind: RuleKind | undefined;
  let name: string | undefined;
  switch (message.method) {
    case "tools/call":
      [kind, name] = ["tools", text(params.name)];
      break;
    case "prompts/get":
      [kind, name] = ["prompts", text(params.name)];
      break;
    case "resources/read":
    case "resources/subscribe":
      [kind, name] = ["resources", text(params.uri)];
      break;
    case "completion/complete": {
      // Completing a hidden prompt's arguments (or a hidden resource template's) would reveal it.
      const ref = (params.ref ?? {}) as Record<string, unknown>;
      if (ref.type === "ref/prompt") [kind, name] = ["prompts", text(ref.name)];
      else if (ref.type === "ref/resource") [kind, name] = ["resources", text(ref.uri)];
      break;
    }
  }
  return kind && name !== undefined ? { kind, name } : undefined;
}
