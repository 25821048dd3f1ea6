/**
 * Synth-time warnings. cdk8s has no annotation mechanism like the AWS CDK's, so warnings go to
 * stderr (where `npm run synth` shows them next to the summary) with a stable prefix tests can match.
 */
export const WARNING_PREFIX = '[toolhive-cdk8s] WARNING';

export function warn(server: string, message: string): void {
  warnAbout(`mcp server "${server}"`, message);
}

/** A warning about something other than one server (a namespace, say): `subject` names it. */
export function warnAbout(subject: string, message: string): void {
  console.warn(`${WARNING_PREFIX} ${subject}: ${message}`);
}
