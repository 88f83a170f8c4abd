# Puts the NEXUS bridge AddOn into NinjaTrader 8's NinjaScript folder, then compile it in the NinjaScript
# Editor (F5). The AddOn is NexusBridgeAddOn.cs plus BridgeCore's sources (services/adapter-nt8/csharp/
# BridgeCore): by default they are linked, not copied, so NinjaTrader compiles the very files the tests run;
# -Copy copies them instead (no Developer Mode / admin rights needed). See docs/nt8.md.
param(
    [string]$NinjaTraderDir = (Join-Path ([Environment]::GetFolderPath('MyDocuments')) 'NinjaTrader 8'),
    [switch]$Copy
)
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$target = Join-Path $NinjaTraderDir 'bin\Custom\AddOns\NexusBridge'
New-Item -ItemType Directory -Force -Path $target | Out-Null
$sources = @(Get-Item (Join-Path $here 'NexusBridgeAddOn.cs')) + @(Get-ChildItem (Join-Path $here '..\csharp\BridgeCore\*.cs'))
foreach ($file in $sources) {
    $dest = Join-Path $target $file.Name
    if (Test-Path $dest) { Remove-Item $dest -Force }
    if ($Copy) { Copy-Item $file.FullName $dest }
    else { New-Item -ItemType SymbolicLink -Path $dest -Target $file.FullName | Out-Null }
}
Write-Host "NEXUS bridge sources in $target ($($sources.Count) files)."
Write-Host "Next: NinjaScript Editor > right-click > References > add System.Numerics.dll, then compile (F5)."
Write-Host "Settings: $NinjaTraderDir\nexus-bridge.txt (NX_NT8_HOST, NX_NT8_PORT, NX_NT8_ACCOUNTS, NX_NT8_TLS) and the"
Write-Host "user environment variable NX_NT8_AUTH_TOKEN."
