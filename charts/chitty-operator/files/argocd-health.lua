-- Argo CD health of chitty.cc resources (ChittyService, ChittyDeployment, RouteClaim), read from
-- their kstatus conditions: the same rule `kubectl wait`, Flux and kstatus apply.
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
  if ready.reason == "Suspended" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
