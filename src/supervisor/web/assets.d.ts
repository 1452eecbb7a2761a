// The dashboard's assets are imported as text (`with { type: "text" }`) and bundled into the binary at build time.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*/assets/app.js" {
  const text: string;
  export default text;
}
