declare module "*.mustache" {
  const text: string;
  export default text;
}
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
/** Imported `with { type: "file" }`: the path of the file embedded in the binary. */
declare module "htmx.org/dist/htmx.min.js" {
  const path: string;
  export default path;
}
declare module "*.txt" {
  const text: string;
  export default text;
}
