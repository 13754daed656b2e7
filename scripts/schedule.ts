/**
 * deno task schedule --kind drl|cosine --T N [--b2 X] [--step-rule drl|flat] [--json]: prints a
 * noise schedule.
 */
import { Command } from "commander";
import { parseCommand } from "../lib/cli.ts";
import { runMain, UserError } from "../lib/errors.ts";
import {
  makeSchedule,
  SCHEDULE_KINDS,
  type ScheduleKind,
  STEP_RULES,
  type StepRule,
} from "../lib/schedule.ts";

await runMain(() => {
  const program = new Command("schedule")
    .description("print a DRL noise schedule")
    .option("--kind <kind>", `schedule kind: ${SCHEDULE_KINDS.join(" | ")}`, "drl")
    .option("--T <n>", "number of levels", "6")
    .option("--b2 <x>", "Langevin step-size multiplier b^2", "2e-4")
    .option("--step-rule <rule>", `Langevin step rule: ${STEP_RULES.join(" | ")}`, "drl")
    .option("--json", "print JSON");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<
    { kind: string; T: string; b2: string; stepRule: string; json?: boolean }
  >();
  const T = Number(o.T);
  const b2 = Number(o.b2);
  if (!Number.isInteger(T)) throw new UserError(`--T needs an integer (got '${o.T}')`);
  if (!Number.isFinite(b2)) throw new UserError(`--b2 needs a number (got '${o.b2}')`);
  const s = makeSchedule({
    kind: o.kind as ScheduleKind,
    T,
    b2,
    stepRule: o.stepRule as StepRule,
  });
  const out = {
    T: s.T,
    sigmas: s.sigmas,
    alphas: s.alphas,
    alphasCum: s.alphasCum,
    sigmasCum: s.sigmasCum,
    stepSizes: s.stepSizes,
  };
  if (o.json) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`${s.kind} schedule, T=${T}, b^2=${b2}, step rule ${s.stepRule}`);
  console.log("  t   sigma     alphaCum  sigmaCum  stepSize(s_t^2)");
  for (let t = 0; t <= T; t++) {
    const step = t < T ? s.stepSizes[t].toExponential(3) : "";
    console.log(
      `${String(t).padStart(3)}  ${s.sigmas[t].toFixed(6)}  ${s.alphasCum[t].toFixed(6)}  ${
        s.sigmasCum[t].toFixed(6)
      }  ${step}`,
    );
  }
});
