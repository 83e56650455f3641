/** GUARD_POLICY texts for the workerd projects that replace the bundled policy set (see vitest.config.ts). */

/** A team's own set: destructive tools need a person, and nothing goes to the newsletter. */
export const TEAM_POLICY = `// a team's policy set, deployed with GUARD_POLICY
@id("guarded-tools")
permit (principal, action == Action::"call_tool", resource);

@id("destructive-needs-a-person")
@reason("destructive tools run only with a person's approval")
forbid (principal, action == Action::"call_tool", resource)
when { resource.destructive }
unless { context.approved };

@id("no-newsletter")
@reason("agents do not write to the newsletter")
forbid (principal, action == Action::"call_tool", resource)
when { context.arguments has channel && context.arguments.channel == "newsletter" };
`;

/** A set with a typo on line 3: it must block everything, with line and column. */
export const BROKEN_POLICY = `@id("guarded-tools") permit (principal, action, resource);
@id("typo")
forbid (principal, action, resource) when { resource.destructiv };
`;
