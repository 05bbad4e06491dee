import { Elysia } from "elysia";
import type { AppContext } from "../context";
import type { WebhookService } from "../../webhooks";

export function webhookAdmin(ctx: AppContext, service: WebhookService) {
  void ctx;
  void service;
  return new Elysia();
}
