-- Argo CD health of the chitty.cc kinds (ChittyService, ChittyDeployment, RouteClaim), read from
-- their kstatus conditions, the rule Flux and kstatus apply, plus Suspended, which kstatus has no
-- word for. This file is the only copy: the chart ships it (templates/argocd-health.yaml) and
-- docs/gitops/argocd-cm-health.yaml embeds it (tests/packaging.rs fails when they differ).
-- Argo CD runs it with Lua's standard libraries off, so it uses nothing beyond base and table.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
local ready = nil
local reconciling = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Stalled" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.message
    return hs
  end
  if condition.type == "Reconciling" and condition.status == "True" then
    reconciling = condition
  end
  if condition.type == "Ready" then
    ready = condition
  end
end
-- Waiting for a person, not for the operator: a suspended service, a rollout awaiting approval.
if ready ~= nil and (ready.reason == "Suspended" or ready.reason == "AwaitingApproval") then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end
if reconciling ~= nil then
  hs.status = "Progressing"
  hs.message = reconciling.message
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
